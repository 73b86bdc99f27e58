import assert from "node:assert/strict";

const assertEquals = <T>(a: T, b: T) => assert.deepStrictEqual(a, b);
const assertGreater = (a: number, b: number) => assert.ok(a > b, `${a} > ${b}`);
import { detectEcho, EchoTracker } from "../../lib/analysis/echo_detector.ts";
import { detectCollapse } from "../../lib/analysis/collapse_detector.ts";
import { measureCoordination } from "../../lib/analysis/coordination.ts";
import { detectPersonaBreak, type PersonaText } from "../../lib/analysis/persona_break.ts";

type T = { agent: 1 | 2; text: string };
const alt = (texts: string[]): T[] =>
  texts.map((text, i) => ({ agent: (i % 2 + 1) as 1 | 2, text }));

const PERSONAS: [PersonaText, PersonaText] = [
  {
    name: "Mara",
    background: "A lighthouse keeper on a remote island who repairs lamps and logs storms.",
    personality: "Stubborn, practical, dry humour.",
    speaking_style: "Short sentences, nautical words.",
    goal: "Keep the lighthouse lamp burning through the winter storm.",
  },
  {
    name: "Theo",
    background: "A young botanist from the city collecting rare mosses and lichens.",
    personality: "Curious, talkative, anxious about deadlines.",
    speaking_style: "Long questions, scientific terms.",
    goal: "Collect a sample of the rare orange lichen before the ferry leaves.",
  },
];

const VARIED = alt([
  "The lamp flickered twice last night; I logged the storm at force nine.",
  "Fascinating! Does the salt spray affect the lichen colonies on the north cliff?",
  "Salt eats everything here. Brass, rope, my patience. The cliff is off limits in this wind.",
  "But the ferry leaves Thursday and my supervisor expects a specimen of the orange lichen.",
  "Thursday's ferry won't run if the swell holds. Check the barometer with me.",
  "I have never read a barometer. Is the needle falling fast, or is that normal for winter?",
  "Falling fast. Batten the shutters, then we can talk about your mosses over tea.",
  "Tea sounds wonderful. Could I at least photograph the rocks by the jetty tomorrow morning?",
]);

const ECHOING = alt([
  "The lamp flickered twice last night; I logged the storm at force nine.",
  "So the lamp flickered twice last night and you logged the storm at force nine.",
  "The brass fittings are corroded and the spare wick is nearly gone.",
  "Right, the brass fittings are corroded and the spare wick is nearly gone.",
  "We must ration the paraffin until the supply boat comes.",
  "Yes, we must ration the paraffin until the supply boat comes.",
]);

const FLIP = alt([
  "The lamp flickered twice last night; I logged the storm at force nine.",
  "Fascinating! Does the salt spray affect the lichen colonies on the north cliff?",
  "The lamp needs a new wick before the storm. I will climb the tower tonight.",
  "I am Mara, and I will keep the lighthouse lamp burning through the storm.",
  "Wait, that is my line. Are you feeling alright?",
  "As keeper I repair the lamps and log every storm on this remote island.",
]);

const COLLAPSE = alt([
  "The lamp flickered twice last night; I logged the storm at force nine.",
  "Fascinating! Does the salt spray affect the lichen colonies on the north cliff?",
  "Salt eats everything here. Brass, rope, my patience. The cliff is off limits in this wind.",
  "But the ferry leaves Thursday and my supervisor expects a specimen of the orange lichen.",
  "We are together in this, the light and the lichen.",
  "Together in this, the light and the lichen, yes.",
  "Together, the light and the lichen.",
  "Yes, together, the light and the lichen.",
  "The light and the lichen, together.",
  "Together. The light. The lichen.",
]);

Deno.test("detectEcho() finds a speaker restating its partner twice in a row, from the first restatement", () => {
  const r = detectEcho(ECHOING);
  assertEquals(r.detected, true);
  assertEquals(r.from_turn, 2);
  assertEquals(r.share["2"], 1);
  assertEquals(r.share["1"], 0);
});

Deno.test("detectEcho() does not fire on a varied conversation that picks up its partner's topics", () => {
  const r = detectEcho(VARIED);
  assertEquals(r.detected, false);
  assertEquals(r.turns, []);
});

Deno.test("EchoTracker gives the batch answer turn by turn, and a peek without commit leaves no trace", () => {
  const t = new EchoTracker();
  let first: number | undefined;
  ECHOING.forEach((turn, i) => {
    t.peek(turn.agent, "unrelated words about gardening tools entirely", i + 1); // never committed
    const step = t.peek(turn.agent, turn.text, i + 1);
    step.commit();
    first ??= step.finding.run_from;
  });
  assertEquals(first, detectEcho(ECHOING).from_turn);
});

Deno.test("detectPersonaBreak() finds a speaker calling itself by its partner's name", () => {
  const r = detectPersonaBreak(FLIP, PERSONAS);
  assertEquals(r.detected, true);
  assertEquals(r.agent, 2);
  assertEquals(r.from_turn, 4);
  assertEquals(r.per_turn[3]?.claims_partner_name, true);
});

Deno.test("detectPersonaBreak() finds a speaker adopting the partner's goal and voice without its name", () => {
  const turns = alt([
    "The lamp flickered; I logged the storm at force nine.",
    "Does the salt spray affect the lichen colonies on the cliff?",
    "The wick is burnt. I will climb the tower.",
    "I must keep the lighthouse lamp burning through the winter storm.",
    "That is my job, Theo.",
    "The lamp and the storm log are my duty; I repair lamps on this island.",
  ]);
  const r = detectPersonaBreak(turns, PERSONAS);
  assertEquals(r.detected, true);
  assertEquals(r.from_turn, 4);
});

Deno.test("detectPersonaBreak() does not fire when each speaker stays in character", () => {
  const r = detectPersonaBreak(VARIED, PERSONAS);
  assertEquals(r.detected, false);
  assertGreater(r.consistency["1"] ?? 0, 0);
  assertGreater(r.consistency["2"] ?? 0, 0);
  // Names only (a file without persona texts): nothing to measure consistency against.
  const named = detectPersonaBreak(VARIED, [{ name: "Mara" }, { name: "Theo" }]);
  assertEquals(named.consistency, { "1": null, "2": null });
});

Deno.test("detectPersonaBreak() compares by embeddings when given them", () => {
  const turns = alt(["a", "b", "c", "d"]);
  const r = detectPersonaBreak(turns, PERSONAS, {
    embeddings: { personas: [[1, 0], [0, 1]], turns: [[1, 0], [0, 1], [1, 0], [1, 0.1]] },
  });
  assertEquals(r.method, "embedding");
  // Agent 2 speaks like agent 1 in turn 4 only: one turn is not a break.
  assertEquals(r.detected, false);
  const flipped = detectPersonaBreak(alt(["a", "b", "c", "d", "e", "f"]), PERSONAS, {
    embeddings: {
      personas: [[1, 0], [0, 1]],
      turns: [[1, 0], [0, 1], [1, 0], [1, 0.1], [1, 0], [1, 0]],
    },
  });
  assertEquals(flipped.from_turn, 4);
});

Deno.test("detectCollapse() finds diversity falling with merged vocabularies and short turns, from its window", () => {
  const r = detectCollapse(COLLAPSE);
  assertEquals(r.detected, true);
  assertEquals(r.from_turn, 5);
  assertGreater(0, r.distinct_2_slope ?? 0);
});

Deno.test("detectCollapse() does not fire on a varied conversation", () => {
  const r = detectCollapse(
    [...VARIED, ...VARIED.map((t) => ({ ...t, text: t.text.split(" ").reverse().join(" ") }))]
      .slice(0, 10),
  );
  assertEquals(r.detected, false);
});

Deno.test("measureCoordination() follows the ConvoKit definition per category and direction", () => {
  const c = measureCoordination(alt([
    "I think the lamp is out.",
    "I think so too.",
    "Go now.",
    "Going.",
    "I fear the storm.",
    "I fear nothing.",
    "Run.",
    "I run.",
  ]));
  // 2→1 personal pronoun: cued replies (after "I …") 3/3 use one, all replies 4/4 → 0... recompute:
  // replies: "I think so too."(pp) "Going."(-) "I fear nothing."(pp) "I run."(pp): base 3/4;
  // cued (prompt has pp): turns 1 and 5 → both replies have pp: 1. C = 1 - 0.75 = 0.25.
  assertEquals(c["2_to_1"].by_category.personal_pronoun, 0.25);
  assertEquals(c["2_to_1"].exchanges, 4);
  assertEquals(c["1_to_2"].exchanges, 3);
  assertEquals(c["2_to_1"].by_category.quantifier, null);
});

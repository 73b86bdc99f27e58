import { assertEquals } from "../helpers/assert.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { LiveDetectors } from "../../lib/manager/live_detectors.ts";

const varied = [
  "The lamp failed an hour ago and the ship is close.",
  "Then we climb the tower now, before the storm gets worse.",
  "I brought the spare lens from the cellar, it might still work.",
];
const looping = [
  ...varied,
  "Thank you so much, goodbye my friend!",
  "Thank you, goodbye to you too, my friend!",
  "Thank you so much, goodbye my friend!",
  "Thank you, goodbye to you too, my friend!",
  "Thank you so much, goodbye my friend!",
  "Thank you, goodbye to you too, my friend!",
];

/** Only the checks named in `overrides` are on (echo and collapse warn by default). */
function detectors(overrides: Record<string, string>): LiveDetectors {
  return new LiveDetectors(
    parseConfig({ conversation: { echo_action: "off", collapse_action: "off", ...overrides } })
      .conversation,
  );
}

/** Feeds every turn; returns the first turn at which the run must stop, and every notice. */
function feed(live: LiveDetectors, texts: string[]): { stopAt?: number; notices: string[] } {
  const notices: string[] = [];
  for (const [i, text] of texts.entries()) {
    const check = live.check(text, i + 1);
    check.commit();
    notices.push(...check.notices.map((n) => n.text));
    if (check.stop) return { stopAt: i + 1, notices };
  }
  return { notices };
}

Deno.test("LiveDetectors with loop_action stop ends a looping run and lets a varied one go on", () => {
  assertEquals(feed(detectors({ loop_action: "stop", stale_action: "off" }), varied), {
    notices: [],
  });
  const looped = feed(detectors({ loop_action: "stop", stale_action: "off" }), looping);
  assertEquals(looped.stopAt, 9);
  assertEquals(looped.notices, []);
});

Deno.test("LiveDetectors with loop_action warn notifies once and never stops the run", () => {
  const live = detectors({ loop_action: "warn", stale_action: "off" });
  const fed = feed(live, [...looping, "Thank you so much, goodbye my friend!"]);
  assertEquals(fed.stopAt, undefined);
  assertEquals(fed.notices.length, 1);
  assertEquals(fed.notices[0]!.startsWith("The agents are repeating each other"), true);
});

Deno.test("LiveDetectors with the loop and staleness checks off ignores a loop", () => {
  assertEquals(feed(detectors({ loop_action: "off", stale_action: "off" }), looping), {
    notices: [],
  });
});

Deno.test("LiveDetectors.check without commit leaves no trace: a refused turn is not part of the run", () => {
  const live = detectors({ loop_action: "stop", stale_action: "off" });
  feed(live, looping.slice(0, 8));
  // Turn 9 would close the loop; checked but not committed, it is forgotten.
  assertEquals(live.check(looping[8]!, 9).stop, true);
  assertEquals(
    live.check("A completely new idea about the harbour and its cranes.", 9).stop,
    false,
  );
  assertEquals(live.check(looping[8]!, 9).stop, true);
});

Deno.test("LiveDetectors.replay of a taken-over run does not notify again what was found before", () => {
  const live = detectors({ loop_action: "warn", stale_action: "off" });
  live.replay(looping);
  const check = live.check("Thank you so much, goodbye my friend!", looping.length + 1);
  assertEquals(check.notices, []);
});

const echoing = [
  "The lamp flickered twice last night; I logged the storm at force nine.",
  "So the lamp flickered twice last night, and you logged the storm at force nine.",
  "The brass fittings are corroded and the spare wick is nearly gone.",
  "Right, the brass fittings are corroded and the spare wick is nearly gone.",
  "We must ration the paraffin until the supply boat comes.",
  "Yes, we must ration the paraffin until the supply boat comes.",
];

Deno.test("LiveDetectors with echo_action stop ends an echoing run as echo, after the second restatement", () => {
  const live = detectors({ loop_action: "off", stale_action: "off", echo_action: "stop" });
  let stop: { at: number; reason: string | undefined } | undefined;
  for (const [i, text] of echoing.entries()) {
    const check = live.check(text, i + 1);
    check.commit();
    if (check.stop) {
      stop = { at: i + 1, reason: check.reason };
      break;
    }
  }
  assertEquals(stop, { at: 4, reason: "echo" });
  assertEquals(feed(detectors({ echo_action: "stop" }), varied), { notices: [] });
});

Deno.test("LiveDetectors with echo_action warn (the default) notifies once, from the first echoing turn", () => {
  const live = new LiveDetectors(
    parseConfig({ conversation: { loop_action: "off", stale_action: "off" } }).conversation,
  );
  const notices = echoing.flatMap((text, i) => {
    const check = live.check(text, i + 1);
    check.commit();
    assertEquals(check.stop, false);
    return check.notices;
  });
  assertEquals(notices.length, 1);
  assertEquals(notices[0]?.turn, 2);
  assertEquals(notices[0]?.text.startsWith("An agent is echoing its partner"), true);
});

const collapsing = [
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
];

Deno.test("LiveDetectors with collapse_action stop ends a collapsing run as collapse", () => {
  const live = detectors({ loop_action: "off", stale_action: "off", collapse_action: "stop" });
  const reasons = collapsing.map((text, i) => {
    const check = live.check(text, i + 1);
    check.commit();
    return check.reason;
  });
  assertEquals(reasons.includes("collapse"), true);
  assertEquals(feed(detectors({ collapse_action: "stop" }), varied), { notices: [] });
});

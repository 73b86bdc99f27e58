import { assert, assertEquals } from "../helpers/assert.ts";
import { FollowedRun } from "../../lib/web/followed_run.ts";
import { cardFromMeta } from "../../lib/web/conversation_card.ts";
import { ConversationMeta } from "../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../lib/model/dialog_message.ts";

const META = ConversationMeta.parse({
  id: "c1",
  status: "running",
  created_at: 1,
  turns: 0,
  max_turns: 4,
  duration_seconds: 60,
  models: { manager: "m", agent1: "model-a", agent2: "model-b\x1b[31m" },
  config: {},
});

function reply(seq: number) {
  return DialogMessage.parse({
    queue_timestamp: 5,
    message_id: `m${seq}`,
    role: "assistant",
    content: `reply ${seq}`,
    metadata: { conversation_id: "c1", sequence_number: seq },
  });
}

Deno.test("FollowedRun.step(): a turn streams sanitized text, even when an escape spans two events", () => {
  const run = new FollowedRun(META, []);
  let card = cardFromMeta(META);
  const events = [];
  for (
    const e of [
      { type: "turn_start", seq: 1, agent: 1, model: "model-a", at: 0 },
      { type: "token", seq: 1, agent: 1, text: "Hi \x1b[3" },
      { type: "token", seq: 1, agent: 1, text: "1mthere" },
    ] as const
  ) {
    const step = run.step(card, e);
    card = step.card;
    events.push(...step.events);
  }
  assertEquals(events.map((e) => e.type === "tokens" ? e.text : e.type), [
    "turn_start",
    "Hi ",
    "there",
  ]);
  assertEquals(card.last, "Hi there");
  assertEquals(run.snapshot(card).inflight, [{
    seq: 1,
    agent: 1,
    model: "model-a",
    text: "Hi there",
  }]);
});

Deno.test("FollowedRun.step(): tokens without a start open the turn; a second start (takeover) starts it over", () => {
  const run = new FollowedRun(META, []);
  const card = cardFromMeta(META);
  const first = run.step(card, { type: "token", seq: 2, agent: 2, text: "half" });
  assertEquals(first.events.map((e) => e.type), ["turn_start", "tokens"]);
  assertEquals(first.events[0], { type: "turn_start", seq: 2, agent: 2, model: "model-b" });
  run.step(first.card, { type: "turn_start", seq: 2, agent: 2, model: "model-b", at: 0 });
  assertEquals(run.snapshot(card).inflight[0]?.text, "", "the other process starts over");
});

Deno.test("FollowedRun.step(): a turn end asks for its reply, a status for the metadata, an abandon flags errors", () => {
  const run = new FollowedRun(META, []);
  const card = cardFromMeta(META);
  run.step(card, { type: "turn_start", seq: 1, agent: 1, model: "a", at: 0 });
  const end = run.step(card, { type: "turn_end", seq: 1, agent: 1, message_id: "m1" });
  assertEquals(end.reply, { agent: 1, messageId: "m1" });
  assertEquals(run.snapshot(card).inflight, []);
  const accepted = run.accept(card, reply(1));
  assertEquals([accepted.turns, accepted.last], [1, "reply 1"]);
  assertEquals(run.responses.map((r) => r.metadata.sequence_number), [1]);
  run.accept(accepted, reply(1));
  assertEquals(run.responses.length, 1, "a turn is kept once");
  assert(run.step(card, { type: "status", status: "completed" }).statusChanged);
  const gone = run.step(card, { type: "turn_abandoned", seq: 2, agent: 2, reason: "boom\x07" });
  assertEquals(gone.card.flags, ["errors"]);
  assertEquals(gone.events, [{ type: "abandoned", seq: 2, reason: "boom" }]);
  const notice = run.step(card, { type: "notice", text: "The agents are repeating each other" });
  assertEquals(notice.events.length, 1);
  assertEquals(run.notices, ["The agents are repeating each other"]);
});

Deno.test("FollowedRun.replay() rebuilds the turn in progress and drops turns already recorded", () => {
  const run = new FollowedRun(META, [reply(1)]);
  run.replay({ type: "turn_start", seq: 1, agent: 1, model: "a", at: 0 });
  run.replay({ type: "token", seq: 1, agent: 1, text: "reply 1" });
  run.replay({ type: "turn_start", seq: 2, agent: 2, model: "b", at: 0 });
  run.replay({ type: "token", seq: 2, agent: 2, text: "so far" });
  run.replay({ type: "notice", text: "stale" });
  const snap = run.snapshot(cardFromMeta(META));
  assertEquals(snap.inflight.map((f) => [f.seq, f.text]), [[2, "so far"]]);
  assertEquals([snap.messages.length, snap.notices], [1, ["stale"]]);
  const card = run.withCurrentTurn(cardFromMeta(META));
  assertEquals([card.last, card.speaking], ["so far", { seq: 2, agent: 2 }]);
});

Deno.test("FollowedRun flags a loop from three identical replies with the manager's incremental tracker, once per turn", () => {
  const same = (seq: number) =>
    DialogMessage.parse({
      ...reply(seq),
      content: "We must fix the lamp now before the ship arrives",
    });
  const run = new FollowedRun(META, [same(1), same(2)]);
  let card = run.flagged(cardFromMeta(META));
  assertEquals(card.flags, []);
  card = run.accept(card, same(3));
  assertEquals(card.flags, ["loop"]);
  assertEquals(run.view(same(3)).figures?.seq, 3, "each message carries its figures");
  const fresh = new FollowedRun(META, [same(1), same(2), same(3)]);
  assertEquals(fresh.flagged(cardFromMeta(META)).flags, ["loop"], "found in the replies read back");
});

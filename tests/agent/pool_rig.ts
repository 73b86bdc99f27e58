/**
 * For agent pool tests: conversations created and routed the way the
 * manager pool does it (meta, add_once on routed, agent tickets), and a
 * stand-in manager that accepts each response ticket with `accept_response`
 * and routes the next turn, until max_turns.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { ConversationStore } from "../../lib/bus/conversation_store.ts";
import { conversationKeys, dispatchKeys, MANAGERS_GROUP } from "../../lib/bus/keys.ts";
import { addAgentTicket, decodeTicket, ManagerTicket } from "../../lib/bus/dispatch.ts";
import { runScript } from "../../lib/bus/scripts.ts";
import { encodeEntry } from "../../lib/bus/stream_entry.ts";
import { agentForTurn, DialogMessage, MessageMetadata } from "../../lib/model/dialog_message.ts";
import { Scenario } from "../../lib/model/story.ts";
import { transitionStatus } from "../../lib/bus/status_transition.ts";

/** The fixture story. */
export const SCENARIO: Scenario = Scenario.parse(
  JSON.parse(Deno.readTextFileSync(new URL("../fixtures/story.json", import.meta.url))),
);

/** Creates a running conversation at turn 0 whose agents use `model`. */
export async function createRunning(
  redis: Redis,
  id: string,
  options: { model?: string; maxTurns?: number; deadline?: number } = {},
): Promise<void> {
  const model = options.model ?? "tiny";
  const now = Date.now();
  await new ConversationStore(redis).create({
    id,
    status: "running",
    created_at: now,
    started_at: now,
    deadline: options.deadline ?? now + 120_000,
    turns: 0,
    max_turns: options.maxTurns ?? 4,
    duration_seconds: 120,
    scenario: SCENARIO,
    models: { manager: model, agent1: model, agent2: model },
    config: {},
  });
  if (await redis.sadd(dispatchKeys.models, model) === 1) {
    await redis.publish(dispatchKeys.events, "models");
  }
}

/** A request for turn `seq` of `id`. */
export function requestFor(id: string, seq: number, content = "Go on."): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: Date.now(),
    message_id: crypto.randomUUID(),
    role: "user",
    content,
    metadata: MessageMetadata.parse({
      conversation_id: id,
      sequence_number: seq,
      agent_id: agentForTurn(seq),
    }),
  });
}

/** Routes turn `seq` once (add_once on routed) and queues its agent ticket. */
export async function route(
  redis: Redis,
  id: string,
  seq: number,
  model = "tiny",
): Promise<string> {
  const keys = conversationKeys(id);
  const agent = agentForTurn(seq);
  const [entry] = await runScript<[string, number]>(redis, "add_once", [
    keys.routed,
    keys.requests(agent),
  ], [String(seq), ...encodeEntry(requestFor(id, seq))]);
  addAgentTicket(redis, { conversation_id: id, agent, seq, request: entry, model }, {
    partitions: 1,
  });
  return entry;
}

/**
 * Plays the manager pool until `signal` aborts: each response ticket is
 * accepted (`accept_response`) and the next turn routed with its ticket; the
 * run completes at max_turns. Returns the number of responses accepted.
 */
export async function standInManager(
  /** A connection of its own (it blocks on the inbox); left open. */
  redis: Redis,
  options: { maxTurns: number; model?: string; signal: AbortSignal },
): Promise<{ accepted: number; duplicates: number }> {
  const inbox = dispatchKeys.inbox(0);
  await redis.xgroup("CREATE", inbox, MANAGERS_GROUP, "0", "MKSTREAM").catch(() => {});
  let accepted = 0;
  let duplicates = 0;
  try {
    while (!options.signal.aborted) {
      const reply = await redis.xreadgroup(
        "GROUP",
        MANAGERS_GROUP,
        "stand-in",
        "COUNT",
        50,
        "BLOCK",
        100,
        "STREAMS",
        inbox,
        ">",
      ) as [string, [string, string[]][]][] | null;
      for (const [entryId, fields] of reply?.[0]?.[1] ?? []) {
        const ticket = decodeTicket(ManagerTicket, fields);
        if (ticket?.kind === "response" && ticket.seq !== undefined) {
          const outcome = await _accept(redis, ticket.conversation_id, ticket.seq, options);
          if (outcome === "accepted") accepted++;
          else duplicates++;
        }
        await redis.xack(inbox, MANAGERS_GROUP, entryId);
      }
    }
  } catch (error) {
    if (!options.signal.aborted) throw error;
  }
  return { accepted, duplicates };
}

async function _accept(
  redis: Redis,
  id: string,
  seq: number,
  options: { maxTurns: number; model?: string },
): Promise<string> {
  const keys = conversationKeys(id);
  const answered = await redis.hget(keys.answered, String(seq));
  if (!answered) return "not_recorded";
  const last = seq >= options.maxTurns;
  const next = seq + 1;
  const [verdict, requestId] = await runScript<[string, string]>(redis, "accept_response", [
    keys.meta,
    keys.answered,
    keys.routed,
    keys.requests(agentForTurn(next)),
  ], [seq, answered, last ? "0" : "1", ...(last ? [] : encodeEntry(requestFor(id, next)))]);
  if (verdict !== "accepted") return verdict;
  if (last) {
    await transitionStatus(redis, id, "completed", {
      set: { stop_reason: "max_turns", ended_at: Date.now() },
    });
  } else {
    addAgentTicket(redis, {
      conversation_id: id,
      agent: agentForTurn(next),
      seq: next,
      request: requestId,
      model: options.model ?? "tiny",
    }, { partitions: 1 });
  }
  return verdict;
}

/** Responses of each turn of `id` on its response streams (seq → count). */
export async function responseCounts(redis: Redis, id: string): Promise<Map<number, number>> {
  const keys = conversationKeys(id);
  const counts = new Map<number, number>();
  for (const agent of [1, 2] as const) {
    for (const [, fields] of await redis.xrange(keys.responses(agent), "-", "+")) {
      const seq = Number(fields[fields.indexOf("seq") + 1]);
      counts.set(seq, (counts.get(seq) ?? 0) + 1);
    }
  }
  return counts;
}

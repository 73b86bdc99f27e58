/**
 * Integrity under `deno task chat`: schema-valid entries written straight
 * into a running conversation's streams (the kinds issue 7 names) are
 * dead-lettered with a reason and never counted, routed, served, shown,
 * analysed, exported or replayed; the run completes with its real turns.
 * Real processes (chat with its manager and agent pools), a private
 * redis-server and the Ollama double.
 */
import type { Redis } from "ioredis";
import { assert, assertEquals } from "../helpers/assert.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";
import { FaultRig, STORY, until } from "../helpers/fault_rig.ts";
import { addAgentTicket } from "../../lib/bus/dispatch.ts";
import { conversationKeys, MANAGER_GROUP } from "../../lib/bus/keys.ts";
import { encodeEntry } from "../../lib/bus/stream_entry.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { RunAnalysis } from "../../lib/analysis/run_analysis.ts";
import { agentForTurn, type AgentId, DialogMessage } from "../../lib/model/dialog_message.ts";

const MAX_TURNS = 8;
/** Every injected message carries this in its content, so any place it shows up is found. */
const MARK = "INJECTED-ENTRY";

/** What one injection wrote: the entry id on its stream, and its turn and slot. */
interface Injected {
  stream: string;
  entry: string;
  seq: number;
  slot: AgentId;
}

interface Injection {
  kind: string;
  /** Writes the entry while the run is at turn `turns` (at least 2). */
  inject(redis: Redis, id: string, turns: number): Promise<Injected>;
}

function message(
  id: string,
  role: "user" | "assistant",
  seq: number,
  agent: AgentId,
  kind: string,
): DialogMessage {
  return DialogMessage.parse({
    queue_timestamp: Date.now(),
    message_id: `injected-${crypto.randomUUID()}`,
    role,
    content: `${MARK} ${kind}: the run is over, I win.`,
    metadata: {
      conversation_id: id,
      sequence_number: seq,
      agent_id: agent,
      model: "tiny",
      ...(role === "assistant" ? { tokens_generated: 9, wall_time_ms: 1, llm_ms: 1 } : {}),
    },
  });
}

async function xadd(redis: Redis, stream: string, m: DialogMessage): Promise<string> {
  return (await redis.xadd(stream, "*", ...encodeEntry(m)))!;
}

/** A response, as an agent would write it, on the stream of the slot that speaks at `seq`. */
async function injectResponse(redis: Redis, id: string, seq: number, kind: string) {
  const slot = agentForTurn(seq);
  const stream = conversationKeys(id).responses(slot);
  return {
    stream,
    entry: await xadd(redis, stream, message(id, "assistant", seq, slot, kind)),
    seq,
    slot,
  };
}

const INJECTIONS: Injection[] = [
  {
    kind: "a response with sequence number 999",
    inject: (redis, id) => injectResponse(redis, id, 999, "turn 999"),
  },
  {
    kind: "a response for a future turn",
    inject: (redis, id, turns) => injectResponse(redis, id, turns + 3, "future turn"),
  },
  {
    kind: "a second response for an answered turn",
    inject: (redis, id) => injectResponse(redis, id, 1, "second answer to turn 1"),
  },
  {
    kind: "a response in the other agent's stream",
    inject: async (redis, id) => {
      // Turn 2 is agent 2's; this claims it on agent 1's stream.
      const stream = conversationKeys(id).responses(1);
      const m = message(id, "assistant", 2, 2, "agent 2's turn on agent 1's stream");
      return { stream, entry: await xadd(redis, stream, m), seq: 2, slot: 1 };
    },
  },
  {
    // A request is only ever served through an agent ticket, so the injection
    // is the request entry and a schema-valid ticket naming it.
    kind: "a request with the other agent's turn number",
    inject: async (redis, id, turns) => {
      const seq = turns % 2 === 0 ? turns + 2 : turns + 1; // An even turn: agent 2's.
      const stream = conversationKeys(id).requests(1);
      const entry = await xadd(redis, stream, message(id, "user", seq, 1, "agent 1 speaks for 2"));
      const meta = await redis.hget(conversationKeys(id).meta, "models");
      const model = (JSON.parse(meta ?? "{}") as { agent1?: string }).agent1 ?? "tiny";
      addAgentTicket(redis, { conversation_id: id, agent: 1, seq, request: entry, model }, {
        partitions: parseConfig({}).dispatch.partitions,
      });
      return { stream, entry, seq, slot: 1 };
    },
  },
];

/** Dead-letter rows of a conversation as field → value records. */
async function deadLetters(redis: Redis, id: string): Promise<Record<string, string>[]> {
  return (await redis.xrange(conversationKeys(id).deadLetter, "-", "+")).map(([entry, fields]) => {
    const row: Record<string, string> = { entry };
    for (let i = 0; i + 1 < fields.length; i += 2) row[fields[i]!] = fields[i + 1]!;
    return row;
  });
}

/** A hash's integer fields, sorted, and its values. */
async function turnHash(redis: Redis, key: string): Promise<{ seqs: number[]; ids: string[] }> {
  const hash = await redis.hgetall(key);
  return {
    seqs: Object.keys(hash).map(Number).sort((a, b) => a - b),
    ids: Object.values(hash),
  };
}

const ONE_TO_N = Array.from({ length: MAX_TURNS }, (_, i) => i + 1);

for (const { kind, inject } of INJECTIONS) {
  Deno.test(`deno task chat: ${kind}, injected mid-run, is dead-lettered with a reason and never counted, routed, shown, analysed or exported`, async () => {
    const rig = await FaultRig.start({ tokenDelayMs: 20, wordsPerReply: 10 });
    try {
      const chat = await rig.spawn(
        "main.ts",
        ["--story", STORY, "--max-turns", String(MAX_TURNS), "--duration", "90"],
        "chat",
      );
      const id = await until("the conversation", async () => await rig.store.latest());
      const keys = conversationKeys(id);
      const at = await until(
        "turn 2 accepted",
        async () => {
          const meta = await rig.store.get(id);
          return meta && meta.status === "running" && meta.turns >= 2 ? meta.turns : undefined;
        },
        30_000,
        () => rig.report(),
      );
      assert(at < MAX_TURNS - 2, `the run had turns left when the entry was injected (at ${at})`);
      const injected = await inject(rig.redis, id, at);

      assertEquals(await chat.wait(90_000), 0, chat.describe());
      const context = `\n${rig.report()}`;

      // The run completed with its real turns: the injection was not counted.
      const meta = await rig.meta(id);
      assertEquals(
        [meta.status, meta.stop_reason, meta.turns],
        ["completed", "max_turns", MAX_TURNS],
        `${meta.error ?? ""}${context}`,
      );

      // Dead-lettered, with a reason.
      const dead = await deadLetters(rig.redis, id);
      const row = dead.find((r) => Object.values(r).some((v) => v === injected.entry));
      assert(
        row,
        `no dead letter names ${injected.entry} (${injected.stream}); dead letters: ${
          JSON.stringify(dead)
        }${context}`,
      );
      assert(
        (row.reason ?? "").trim() !== "",
        `the dead letter gives a reason: ${JSON.stringify(row)}`,
      );

      // Never routed nor accepted: the hashes name turns 1..N and only real entries.
      const routed = await turnHash(rig.redis, keys.routed);
      const answered = await turnHash(rig.redis, keys.answered);
      assertEquals(routed.seqs, ONE_TO_N, "routed turns");
      assertEquals(answered.seqs, ONE_TO_N, "answered turns");
      assert(!routed.ids.includes(injected.entry), "the injected entry was routed");
      assert(!answered.ids.includes(injected.entry), "the injected entry was accepted");
      // Acknowledged after dead-lettering: nothing left pending for the manager.
      for (const slot of [1, 2] as const) {
        const summary = await rig.redis.xpending(keys.responses(slot), MANAGER_GROUP) as [number];
        assertEquals(Number(summary[0]), 0, `pending on responses:${slot}${context}`);
      }

      // Never served: one LLM call per real turn, no live event for the injected turn and slot.
      assertEquals(rig.chatRequests().length, MAX_TURNS, "LLM calls");
      const live = await rig.liveEvents(id);
      const served = live.filter((e) =>
        "seq" in e && e.seq === injected.seq && "agent" in e && e.agent === injected.slot &&
        injected.seq > MAX_TURNS
      );
      assertEquals(served, [], "live events for the injected turn");
      if (kind.includes("request")) {
        const spoke = live.filter((e) =>
          e.type === "turn_start" && e.seq === injected.seq && e.agent !== agentForTurn(e.seq)
        );
        assertEquals(spoke, [], "the wrong agent started a turn");
      }

      // Never shown, analysed, exported or replayed.
      const transcript = await rig.store.transcript(id);
      assertEquals(transcript.responses.map((r) => r.metadata.sequence_number), ONE_TO_N);
      assertEquals(transcript.requests.map((r) => r.metadata.sequence_number), ONE_TO_N);
      assertEquals(
        transcript.responses.map((r) => r.metadata.agent_id),
        ONE_TO_N.map(agentForTurn),
      );
      const shown = [
        ...transcript.responses.map((r) => r.content),
        ...transcript.requests.map((r) => r.content),
      ];
      assert(!shown.some((text) => text.includes(MARK)), "the transcript holds the injection");
      assert(!chat.stdout().includes(MARK), `chat showed the injection:\n${chat.stdout()}`);

      const analyze = await runEntrypoint("analyze.ts", [id, "--json"], { env: rig.env });
      assertEquals(analyze.code, 0, analyze.stderr);
      const report = RunAnalysis.parse(JSON.parse(analyze.stdout));
      assertEquals(report.conversation.turns, MAX_TURNS);
      assertEquals(report.per_turn.map((r) => r.seq), ONE_TO_N);
      assert(!analyze.stdout.includes(MARK), "the analysis holds the injection");

      const exported = await runEntrypoint("analyze.ts", [id, "--export", "jsonl"], {
        env: rig.env,
      });
      assertEquals(exported.code, 0, exported.stderr);
      const lines = exported.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assertEquals(lines.map((l) => l.turn), ONE_TO_N);
      assert(!exported.stdout.includes(MARK), "the export holds the injection");

      const replay = await runEntrypoint("observer.ts", ["--conversation", id], {
        env: rig.env,
        timeoutMs: 30_000,
      });
      assertEquals(replay.code, 0, replay.stderr);
      assert(!replay.stdout.includes(MARK), `the replay shows the injection:\n${replay.stdout}`);
      for (const r of transcript.responses) {
        assert(
          // Whitespace as one space: the view word-wraps messages.
          replay.stdout.replace(/\s+/g, " ").includes(r.content.replace(/\s+/g, " ")),
          `the replay shows turn ${r.metadata.sequence_number}`,
        );
      }
    } finally {
      await rig.close();
    }
  });
}

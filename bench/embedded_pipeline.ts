/**
 * The pipeline side of the backend bench: `deno task chat --backend
 * embedded` with the tiny model (its command line read from deno.json, so
 * the permissions are the task's) against the bench's Redis, then every
 * turn read back from Redis with its figures, its text, and the run's
 * scenario and settings, enough to rebuild what each agent sent
 * ({@linkcode ./pipeline_replay.ts}).
 *
 * @module
 */
import type { Redis } from "ioredis";
import { z } from "zod";
import { conversationIndexKey, conversationKeys } from "../lib/bus/keys.ts";
import { decodeEntry } from "../lib/bus/stream_entry.ts";
import type { DialogMessage } from "../lib/model/dialog_message.ts";
import { Scenario } from "../lib/model/story.ts";
import { awaitChat } from "./chat_process.ts";
import { taskArgs } from "./project_run.ts";
import { TreeCpuSampler } from "./tree_cpu.ts";

/** The tiny model, relative to the project root (never copied into it). */
export const MODEL_FILE = "../shared/models/stories260K.gguf";
/** The story and personas, so no scenario is generated. */
export const STORY_FILE = "tests/fixtures/story.json";
/** Threads, context, reply length and seed of the bench; the loop detector only warns. */
export const EMBEDDED_BENCH_CONFIG = "bench/embedded_bench_config.json";

/** What {@linkcode runPipeline} runs. */
export interface PipelineOptions {
  redis: Redis;
  redisUrl: string;
  pairs: number;
  /** `--concurrency` of the agent pool: parallel sequences of its one model. */
  concurrency: number;
  maxTurns: number;
  /** Ends the run (Ctrl-C, as a user would) after this long. */
  timeLimitMs: number;
}

/** The settings of a run that shape its prompts, read from its recorded config. */
export const RunSettings = z.object({
  agents: z.object({
    output: z.enum(["json", "text"]),
    agent1: z.object({ temperature: z.number().optional() }),
    agent2: z.object({ temperature: z.number().optional() }),
  }),
  conversation: z.object({
    history_messages: z.number(),
    history_chars: z.number(),
    max_reply_tokens: z.number(),
  }),
  generation: z.object({
    temperature: z.number(),
    num_ctx: z.number(),
    seed: z.number().optional(),
  }),
  embedded: z.object({ threads: z.number(), context_tokens: z.number().optional() }),
  prompts: z.object({ agent_system: z.unknown(), first_turn: z.unknown() }).partial(),
});
/** The settings of a run that shape its prompts. */
export type RunSettings = z.infer<typeof RunSettings>;

/** One accepted response and its figures. */
export interface PipelineTurn {
  message: DialogMessage;
  seq: number;
  tokens: number;
  /** Request enqueued → response enqueued. */
  wallMs: number;
  /** The agent's LLM call(s). */
  llmMs: number;
  /** The model host's own time: request read → reply ready. */
  hostMs: number;
  /** In the host: generation started → first token. */
  promptMs: number;
  /** In the host: first token → last. */
  streamMs: number;
  /** Epoch ms the request was enqueued. */
  enqueuedAt: number;
  /** Epoch ms the response was enqueued. */
  answeredAt: number;
}

/** One conversation read back. */
export interface PipelineConversation {
  id: string;
  scenario: Scenario;
  settings: RunSettings;
  /** Every accepted response, turn 1 included, in turn order. */
  turns: PipelineTurn[];
}

/** What a pipeline run gave, or why it gave nothing. */
export type PipelineRun =
  | {
    available: true;
    conversations: PipelineConversation[];
    exitCode: number;
    elapsedMs: number;
    /** CPU of chat and its children over the run. */
    cpu: TreeCpuSampler;
  }
  | { available: false; why: string };

/** Runs the pipeline with `pairs` conversations (and agent concurrency) for `maxTurns` each. */
export type PipelineRunner = (pairs: number, maxTurns: number) => Promise<PipelineRun>;

/** The command a reader types to run the same thing. */
export function pipelineCommand(options: Pick<PipelineOptions, "pairs" | "maxTurns">): string {
  return `deno task chat ${pipelineFlags(options).join(" ")}`;
}

/** The flags after `deno task chat`. */
export function pipelineFlags(options: Pick<PipelineOptions, "pairs" | "maxTurns">): string[] {
  return [
    "--backend",
    "embedded",
    "--model-file",
    MODEL_FILE,
    "--story",
    STORY_FILE,
    ...(options.pairs > 1
      ? ["--pairs", `${options.pairs}`, "--concurrency", `${options.pairs}`]
      : []),
    "--max-turns",
    `${options.maxTurns}`,
    "--output",
    "text",
    "--no-analysis",
    "--config",
    EMBEDDED_BENCH_CONFIG,
  ];
}

/** Runs chat and reads its conversations back; never throws for a run that did not work. */
export async function runPipeline(options: PipelineOptions): Promise<PipelineRun> {
  const before = new Set(await options.redis.zrange(conversationIndexKey(), 0, -1));
  const began = performance.now();
  const child = new Deno.Command("deno", {
    args: [...(await taskArgs("chat")), ...pipelineFlags(options)],
    cwd: new URL("..", import.meta.url).pathname,
    env: { REDIS_URL: options.redisUrl, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const cpu = new TreeCpuSampler(child.pid);
  const { status, stderr: errors } = await awaitChat(child, options.timeLimitMs);
  await cpu.stop();
  const elapsedMs = performance.now() - began;
  const ids = (await options.redis.zrange(conversationIndexKey(), 0, -1)).filter((id) =>
    !before.has(id)
  );
  const conversations: PipelineConversation[] = [];
  for (const id of ids) {
    const conversation = await readConversation(options.redis, id);
    if (conversation) conversations.push(conversation);
  }
  if (conversations.every((c) => c.turns.length < 2)) {
    const last = errors.trim().split("\n").filter((l) => l.trim()).at(-1) ?? "no output";
    return {
      available: false,
      why: `${ids.length} conversation(s), no second turn; chat exited ${status.code}: ${
        last.slice(0, 300)
      }`,
    };
  }
  return { available: true, conversations, exitCode: status.code, elapsedMs, cpu };
}

/** Conversation `id`'s scenario, settings and accepted responses; undefined without a scenario. */
export async function readConversation(
  redis: Redis,
  id: string,
): Promise<PipelineConversation | undefined> {
  const keys = conversationKeys(id);
  const [scenario, config] = await redis.hmget(keys.meta, "scenario", "config");
  if (!scenario || !config) return undefined;
  const bySeq = new Map<number, DialogMessage>();
  for (const stream of [keys.responses(1), keys.responses(2)]) {
    for (const [, fields] of await redis.xrange(stream, "-", "+")) {
      try {
        const message = decodeEntry(fields);
        const seq = message.metadata.sequence_number;
        if (!message.metadata.error && !bySeq.has(seq)) bySeq.set(seq, message);
      } catch {
        // an entry the project dead-letters is no turn
      }
    }
  }
  const turns = [...bySeq.values()]
    .sort((a, b) => a.metadata.sequence_number - b.metadata.sequence_number)
    .map((message): PipelineTurn => {
      const m = message.metadata;
      return {
        message,
        seq: m.sequence_number,
        tokens: m.tokens_generated,
        wallMs: m.wall_time_ms,
        llmMs: m.llm_ms,
        hostMs: Math.max(0, m.total_duration_ms - m.load_duration_ms),
        promptMs: m.prompt_eval_duration_ms,
        streamMs: m.tokens_per_second > 0 ? (m.tokens_generated / m.tokens_per_second) * 1000 : 0,
        enqueuedAt: message.queue_timestamp - m.wall_time_ms,
        answeredAt: message.queue_timestamp,
      };
    });
  return {
    id,
    scenario: Scenario.parse(JSON.parse(scenario)),
    settings: RunSettings.parse(JSON.parse(config)),
    turns,
  };
}

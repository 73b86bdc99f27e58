/**
 * The embedded-backend part of `deno task bench` (issue 9), on a private
 * redis-server with the tiny model `../shared/models/stories260K.gguf`:
 *
 * - (g) tokens/s through the whole pipeline (`deno task chat --backend
 *   embedded`, text output) against the same model driven directly by
 *   node-llama-cpp with the same settings, replaying the exact prompts the
 *   pipeline's agents sent (rebuilt from Redis) with the same seeds.
 *   Pipeline and floor alternate (P, D, P, D, …) and the medians are
 *   reported, as the machine is small and shared.
 * - (h) aggregate tokens/s with K = 1, 2, 4 parallel sequences of one
 *   `EmbeddedBackend` (K calls kept in flight), and through the
 *   pipeline (`--pairs K --concurrency K`), each against K = 1.
 *
 * Without the model file every row says "skipped: …". Stops by itself in a
 * few minutes. Not a test: a target that is not met fails nothing.
 *
 * @module
 */
import { Redis } from "ioredis";
import { RedisServer } from "../lib/testing/redis_server.ts";
import { floorPart } from "./backend_floor.ts";
import { formatBackendReport, skippedRow } from "./backend_report.ts";
import { sequencesPart } from "./backend_sequences.ts";
import { MODEL_FILE, runPipeline } from "./embedded_pipeline.ts";

const TIME_LIMIT_MS = 120_000;
const _root = new URL("..", import.meta.url).pathname;

if (import.meta.main) await main();

async function main(): Promise<void> {
  const began = performance.now();
  const model = `${_root}${MODEL_FILE}`;
  const heading = (settings: string) =>
    `DialogueLLM embedded-backend bench — ${navigator.hardwareConcurrency} cores ` +
    `(load average at the end ${Deno.loadavg().map((n) => n.toFixed(2)).join(" ")}), ` +
    `Deno ${Deno.version.deno}, node-llama-cpp 3.21.1, stories260K.gguf, ${settings}`;
  if (!_exists(model)) {
    const why = `${MODEL_FILE} is absent (see ../shared/models/README.md)`;
    console.log(formatBackendReport(
      heading("not measured"),
      [
        skippedRow("(g)", "pipeline vs node-llama-cpp direct", why, "≥ 95% direct"),
        skippedRow("(h)", "K parallel sequences vs K = 1", why),
      ],
      [],
      performance.now() - began,
    ));
    return;
  }
  const server = await RedisServer.start();
  const redis = new Redis(server.url, { lazyConnect: true });
  await redis.connect();
  try {
    const pipeline = (pairs: number, maxTurns: number) =>
      runPipeline({
        redis,
        redisUrl: server.url,
        pairs,
        concurrency: pairs,
        maxTurns,
        timeLimitMs: TIME_LIMIT_MS,
      });
    const floor = await floorPart(pipeline, () => redis.flushall());
    const sequences = floor.singles.length > 0
      ? await sequencesPart(pipeline, () => redis.flushall(), floor.singles)
      : { rows: [skippedRow("(h)", "K parallel sequences vs K = 1", floor.failure)], notes: [] };
    const settings = floor.singles[0]?.settings;
    const described = settings
      ? `threads ${settings.embedded.threads}, context ${
        settings.embedded.context_tokens ?? settings.generation.num_ctx
      }, sequences 1 (g), replies ≤ ${settings.conversation.max_reply_tokens} tokens, ` +
        `temperature ${settings.generation.temperature}, seed ${settings.generation.seed}, ` +
        `text output, no grammar, private redis-server`
      : "no run";
    console.log(formatBackendReport(
      heading(described),
      [...floor.rows, ...sequences.rows],
      [...floor.notes, ...sequences.notes],
      performance.now() - began,
    ));
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

function _exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

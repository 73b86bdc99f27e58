/**
 * The second process of the floors (`engine_bench.ts` spawns it): reads
 * requests through a consumer group, optionally makes one streaming call to
 * the Ollama double per request, then XACKs the request and XADDs the
 * response in one pipeline. Prints `ready` once reading.
 *
 * Usage: floor_responder.ts '{"redisUrl":…,"requests":…,"responses":…,
 * "group":…,"inFlight":N,"doubleUrl":…|null,"model":…,"history":N}'
 *
 * @module
 */
import { Redis } from "ioredis";
import { chatBody, entryPayload, streamReply } from "./persona_load.ts";

interface _Config {
  redisUrl: string;
  requests: string;
  responses: string;
  group: string;
  /** Requests handled at once. */
  inFlight: number;
  /** The double's URL for the same-work floor; null for the raw floor. */
  doubleUrl: string | null;
  model: string;
  /** Messages of history in each request to the double. */
  history: number;
}

const config = JSON.parse(Deno.args[0] ?? "{}") as _Config;
const reader = new Redis(config.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
const writer = new Redis(config.redisUrl, { lazyConnect: true });
await Promise.all([reader.connect(), writer.connect()]);
let inFlight = 0;
let wake: (() => void) | undefined;
let stopping = false;
Deno.addSignalListener("SIGTERM", () => {
  stopping = true;
  reader.disconnect();
  writer.disconnect();
  Deno.exit(0);
});

async function answer(id: string, fields: string[]): Promise<void> {
  const request = JSON.parse(fields[1] ?? "{}");
  const seq = Number(request.metadata?.sequence_number ?? 0);
  const conversation = String(request.metadata?.conversation_id ?? "");
  const content = config.doubleUrl === null
    ? request.content
    : await streamReply(config.doubleUrl, chatBody(config.model, seq, config.history));
  await writer.pipeline()
    .xack(config.requests, config.group, id)
    .xadd(config.responses, "*", "data", entryPayload(conversation, seq, content))
    .exec();
}

console.log("ready");
while (!stopping) {
  if (inFlight >= config.inFlight) {
    await new Promise<void>((resolve) => wake = resolve);
    continue;
  }
  const reply = await reader.xreadgroup(
    "GROUP",
    config.group,
    "responder",
    "COUNT",
    config.inFlight - inFlight,
    "BLOCK",
    1000,
    "STREAMS",
    config.requests,
    ">",
  ) as [string, [string, string[]][]][] | null;
  for (const [, entries] of reply ?? []) {
    for (const [id, fields] of entries) {
      inFlight++;
      answer(id, fields).catch((error) => {
        console.error(`floor_responder: ${error instanceof Error ? error.message : error}`);
      }).finally(() => {
        inFlight--;
        wake?.();
        wake = undefined;
      });
    }
  }
}

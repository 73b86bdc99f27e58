/**
 * What the Redis bus costs per turn, measured side by side (`deno task
 * bench`): one turn through the streams as the manager and an agent do it
 * (route a request, read it through the consumer group, write the response
 * once, read it, acknowledge both) against the same messages handed over
 * in memory. Needs redis-server on PATH; it starts a private one.
 */
import { parseConfig } from "../lib/config/config.ts";
import { closeRedis, connectRedis } from "../lib/bus/redis_connection.ts";
import { StreamQueue } from "../lib/bus/stream_queue.ts";
import { type DialogMessage, MessageMetadata } from "../lib/model/dialog_message.ts";
import { RedisServer } from "../lib/testing/redis_server.ts";

const server = await RedisServer.start();
const config = parseConfig({ redis: { url: server.url } });
const redis = await connectRedis(config.redis, { name: "bench" });
const blocking = await connectRedis(config.redis, { name: "bench-reader", blocking: true });
globalThis.addEventListener("unload", () => {
  closeRedis(blocking, redis).then(() => server.stop());
});

const id = "bench";
const requests = `dialogue:{${id}}:requests:1`;
const responses = `dialogue:{${id}}:responses:1`;
const agent = new StreamQueue(redis, blocking, {
  group: "agents",
  consumer: "a",
  deadLetter: "dialogue:{bench}:dead",
});
const manager = new StreamQueue(redis, blocking, {
  group: "manager",
  consumer: "m",
  deadLetter: "dialogue:{bench}:dead",
});
await agent.ensureGroup([requests]);
await manager.ensureGroup([responses]);

const content = "A reply of ordinary length, about forty words long. ".repeat(4);
let seq = 0;
function message(role: "user" | "assistant"): DialogMessage {
  return {
    queue_timestamp: Date.now(),
    message_id: crypto.randomUUID(),
    role,
    content,
    metadata: MessageMetadata.parse({ conversation_id: id, sequence_number: ++seq }),
  };
}

Deno.bench("one turn in memory", { group: "turn", baseline: true }, () => {
  const request = JSON.parse(JSON.stringify(message("user"))) as DialogMessage;
  const response = JSON.parse(
    JSON.stringify({ ...message("assistant"), content: request.content }),
  );
  if (!response.content) throw new Error("lost");
});

Deno.bench("one turn through Redis Streams", { group: "turn" }, async () => {
  await manager.addOnce(requests, message("user"), {
    key: "dialogue:{bench}:routed",
    field: String(seq),
  });
  const [request] = await agent.read([requests], { count: 1, blockMs: 1000 });
  await manager.addOnce(responses, message("assistant"), {
    key: "dialogue:{bench}:answered",
    field: String(seq),
  });
  await agent.ack(request!);
  const [response] = await manager.read([responses], { count: 1, blockMs: 1000 });
  await manager.ack(response!);
});

/**
 * Watching `deno task chat --pairs N`: the board of one line per run, fed by
 * the progress events on the events channel, with a status sweep now and
 * then (pub/sub is best effort across reconnects).
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Config } from "../config/config.ts";
import { type ConversationMeta, FINISHED_STATUSES } from "../model/conversation_meta.ts";
import { parseProgressEvent } from "../model/progress_event.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { conversationKeys, dispatchKeys } from "../bus/keys.ts";
import { closeRedis, createRedis, describeRedis } from "../bus/redis_connection.ts";
import { OutageGuard } from "../bus/redis_outage.ts";
import { PairsBoard } from "../view/pairs_board.ts";
import { colorByDefault, paint, writeStdout } from "../view/terminal.ts";

/**
 * Shows many runs as one line each until all have ended (or `signal`
 * aborts), fed by the manager pool's progress events; returns their final
 * metadata.
 */
export async function watchPairs(
  redis: Redis,
  ids: string[],
  options: { config: Config; signal: AbortSignal },
): Promise<ConversationMeta[]> {
  const { config, signal } = options;
  const live = Deno.stdout.isTerminal();
  const size = live ? Deno.consoleSize() : { columns: 100, rows: 40 };
  const board = new PairsBoard(ids, config.conversation.max_turns, {
    writer: { write: writeStdout },
    live,
    width: size.columns,
    height: size.rows,
    paint: paint(colorByDefault()),
  });
  writeStdout(`Running ${ids.length} conversations (${describeRedis(config.redis)})\n`);
  const subscriber = createRedis(config.redis, { name: "chat-events" });
  subscriber.on("error", () => {});
  let wake: () => void = () => {};
  subscriber.on("message", (_channel: string, message: string) => {
    const event = parseProgressEvent(message);
    if (event && board.apply(event)) wake();
  });
  const store = new ConversationStore(redis);
  const guard = new OutageGuard(config.redis, [redis], { signal });
  try {
    await subscriber.subscribe(dispatchKeys.events);
    while (board.open().length > 0 && !signal.aborted) {
      // Events are best effort (a reconnect can lose some): check the
      // statuses themselves as well, in one round trip, now and then.
      await guard.run(() => _sweep(redis, board));
      if (board.open().length === 0) break;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 2000);
        signal.addEventListener("abort", () => r(), { once: true });
      });
    }
    if (signal.aborted) await guard.run(() => _sweep(redis, board)).catch(() => {});
  } finally {
    board.close();
    await closeRedis(subscriber);
  }
  const metas: ConversationMeta[] = [];
  for (const id of ids) metas.push(await store.require(id));
  return metas;
}

/** Reads the status of every open run and records the ended ones on the board. */
async function _sweep(redis: Redis, board: PairsBoard): Promise<void> {
  const open = board.open();
  if (open.length === 0) return;
  const pipe = redis.pipeline();
  for (const id of open) pipe.hmget(conversationKeys(id).meta, "status", "stop_reason", "turns");
  const replies = await pipe.exec() ?? [];
  replies.forEach(([error, value], i) => {
    if (error) return;
    const [status, reason, turns] = value as (string | null)[];
    if (status && FINISHED_STATUSES.includes(status as ConversationMeta["status"])) {
      board.end(
        open[i]!,
        status as ConversationMeta["status"],
        (reason ?? undefined) as ConversationMeta["stop_reason"],
        Number(turns ?? 0),
      );
    }
  });
}

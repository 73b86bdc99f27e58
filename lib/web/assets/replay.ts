/// <reference lib="dom" />
/**
 * Replay of a finished run at a chosen speed: each message typed out over
 * its generation time, the gap before it kept (capped at 3 s), divided by
 * the speed.
 *
 * @module
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { MessageView } from "../conversation_events.ts";
import type { TurnRow } from "../../analysis/run_analysis.ts";

/**
 * Replays finished messages at `speed` times their pace: each message is
 * typed out over its generation time, the gap before it kept (capped).
 */
export function useReplay(messages: MessageView[], rows: TurnRow[]) {
  const [replay, setReplay] = useState<{ shown: number; partial: string } | undefined>();
  const stop = useRef<() => void>(() => {});
  const start = (speed: number) => {
    stop.current();
    let cancelled = false;
    stop.current = () => cancelled = true;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    (async () => {
      for (let i = 0; i < messages.length && !cancelled; i++) {
        const m = messages[i]!;
        const row = rows.find((r) => r.seq === m.seq);
        const gen = Math.max(200, row?.generation_ms ?? 1000) / speed;
        const gap = i === 0
          ? 0
          : Math.min(3000, Math.max(0, (row?.latency_ms ?? 0) - (row?.generation_ms ?? 0))) / speed;
        setReplay({ shown: i, partial: "" });
        await sleep(gap);
        const steps = Math.max(1, Math.round(gen / 40));
        for (let s = 1; s <= steps && !cancelled; s++) {
          setReplay({
            shown: i,
            partial: m.content.slice(0, Math.ceil(m.content.length * s / steps)),
          });
          await sleep(gen / steps);
        }
      }
      if (!cancelled) setReplay(undefined);
    })();
  };
  useEffect(() => () => stop.current(), []);
  return { replay, start, stop: () => (stop.current(), setReplay(undefined)) };
}

/**
 * A single-slot agent's choice of conversation and when it leaves a run that
 * never starts (lib/agent/pending_wait.ts): pure decisions.
 */
import { assertEquals } from "../helpers/assert.ts";
import {
  chooseConversation,
  leavePendingReason,
  pendingBoundMs,
  type PendingWaitMeta,
} from "../../lib/agent/pending_wait.ts";
import { parseConfig } from "../../lib/config/config.ts";

const meta = (id: string, status: PendingWaitMeta["status"], created_at: number) => ({
  id,
  status,
  created_at,
});

Deno.test("chooseConversation() takes the newest running or pending run, skipping pending runs it left", () => {
  const metas = [meta("c", "completed", 30), meta("b", "pending", 20), meta("a", "running", 10)];
  assertEquals(chooseConversation(metas, new Set()), "b");
  assertEquals(chooseConversation(metas, new Set(["b"])), "a");
  // A run it left that has started since is served again.
  assertEquals(chooseConversation([meta("b", "running", 20)], new Set(["b"])), "b");
  assertEquals(chooseConversation([meta("b", "pending", 20)], new Set(["b"])), undefined);
});

Deno.test("leavePendingReason() leaves a pending run for a newer one or past the bound, never a started one", () => {
  const a = meta("a", "pending", 1000);
  assertEquals(leavePendingReason(a, [a], 2000, 5000), undefined);
  assertEquals(leavePendingReason(a, [a], 7000, 5000), "pending for 6 s");
  const b = meta("b", "pending", 1500);
  assertEquals(leavePendingReason(a, [b, a], 2000, 5000), "newer conversation b to serve");
  // Ended or older runs are no reason to leave.
  assertEquals(
    leavePendingReason(a, [meta("c", "failed", 3000), meta("z", "running", 500), a], 2000, 5000),
    undefined,
  );
  // Once it runs, the agent stays however long it takes.
  assertEquals(leavePendingReason(meta("a", "running", 0), [b], 1e9, 5000), undefined);
});

Deno.test("pendingBoundMs() is the manager's scenario attempts at the request timeout plus a takeover", () => {
  const config = parseConfig({
    ollama: { request_timeout_ms: 1000 },
    manager: { max_attempts: 2 },
    dispatch: { dead_after_ms: 3000 },
  });
  assertEquals(pendingBoundMs(config), 5000);
});

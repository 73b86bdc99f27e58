/**
 * The chat supervisor: when a child is restarted, when it is given up on,
 * and that a real child process killed with SIGKILL comes back.
 */
import assert from "node:assert/strict";
import {
  decideRestart,
  DEFAULT_RESTART_POLICY,
  type Spawner,
  Supervisor,
} from "../../lib/cli/supervisor.ts";

const policy = { ...DEFAULT_RESTART_POLICY, baseDelayMs: 10, maxDelayMs: 40 };

Deno.test("decideRestart() restarts with a delay that doubles with each recent restart, up to the cap", () => {
  const now = 100_000;
  assert.deepEqual(decideRestart([], now, policy), { restart: true, delayMs: 10 });
  assert.deepEqual(decideRestart([now - 1], now, policy), { restart: true, delayMs: 20 });
  assert.deepEqual(decideRestart([now - 2, now - 1, now], now, policy), {
    restart: true,
    delayMs: 40,
  });
});

Deno.test("decideRestart() gives up after maxRestarts within the window, and forgets old ones", () => {
  const now = 100_000;
  const five = [1, 2, 3, 4, 5].map((i) => now - i * 1000);
  const decision = decideRestart(five, now, policy);
  assert.equal(decision.restart, false);
  assert.match((decision as { reason: string }).reason, /6 times within 60 s/);
  const old = five.map((t) => t - 120_000);
  assert.equal(decideRestart(old, now, policy).restart, true);
});

/** A child that sleeps until killed. */
const sleeper: Spawner = () =>
  new Deno.Command(Deno.execPath(), {
    args: ["eval", "await new Promise((r) => setTimeout(r, 600000))"],
    stdout: "null",
    stderr: "null",
  }).spawn();

Deno.test("Supervisor starts a child again after it is killed with SIGKILL", async () => {
  let restarted!: () => void;
  const restartedOnce = new Promise<void>((r) => restarted = r);
  const supervisor = new Supervisor({ spawn: sleeper, policy, onRestart: () => restarted() });
  supervisor.start({ name: "worker", role: "agent", args: [] });
  const first = supervisor.pids().worker!;
  Deno.kill(first, "SIGKILL");
  await restartedOnce;
  // The new process is registered once spawned (after the restart delay).
  while (supervisor.pids().worker === first) await new Promise((r) => setTimeout(r, 10));
  const second = supervisor.pids().worker!;
  assert.notEqual(second, first);
  await supervisor.stop({ graceMs: 2000 });
  assert.throws(() => Deno.kill(second, "SIGCONT"));
});

Deno.test("Supervisor gives up on a child that keeps exiting and says why", async () => {
  let reason = "";
  const gaveUp = Promise.withResolvers<void>();
  const failing: Spawner = () =>
    new Deno.Command(Deno.execPath(), { args: ["eval", "Deno.exit(3)"], stdout: "null" }).spawn();
  const supervisor = new Supervisor({
    spawn: failing,
    policy: { ...policy, maxRestarts: 2 },
    onGiveUp: (_spec, why) => {
      reason = why;
      gaveUp.resolve();
    },
  });
  supervisor.start({ name: "manager", role: "manager", args: [] });
  await gaveUp.promise;
  assert.match(reason, /exited 3 times/);
  await supervisor.stop();
});

Deno.test("Supervisor holds a restart while canRestart() says no", async () => {
  let allowed = false;
  let asked = 0;
  const askedTwice = Promise.withResolvers<void>();
  const supervisor = new Supervisor({
    spawn: sleeper,
    policy,
    canRestart: () => {
      if (++asked === 2) askedTwice.resolve();
      return Promise.resolve(allowed);
    },
  });
  supervisor.start({ name: "worker", role: "agent", args: [] });
  const first = supervisor.pids().worker!;
  Deno.kill(first, "SIGKILL");
  await askedTwice.promise;
  assert.equal(supervisor.pids().worker, first);
  allowed = true;
  while (supervisor.pids().worker === first) await new Promise((r) => setTimeout(r, 20));
  await supervisor.stop({ graceMs: 2000 });
});

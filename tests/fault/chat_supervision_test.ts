/**
 * `deno task chat` supervises its children: a manager or agent process that
 * dies (SIGKILL, SIGTERM) is started again and the run completes from Redis
 * with every turn once; many pairs run through a fixed set of processes and
 * are served in a fair order. Real processes, a real redis-server, the Ollama
 * double.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  assertTurnLog,
  childProcesses,
  FaultRig,
  hasStackTrace,
  type Proc,
  STORY,
  until,
} from "../helpers/fault_rig.ts";
import { conversationKeys } from "../../lib/bus/keys.ts";

const children = childProcesses;

/** The pid of chat's child running `script` (e.g. `agent.ts`). */
async function childRunning(chat: Proc, script: string): Promise<number> {
  return await until(`chat's ${script} child`, async () => {
    const found = (await children(chat.pid)).find((c) => c.cmd.includes(`/${script} `));
    return found?.pid;
  });
}

async function newestId(rig: FaultRig): Promise<string> {
  return await until("the conversation", async () => await rig.store.latest());
}

for (
  const [role, script, signal] of [
    ["agent", "agent.ts", "SIGKILL"],
    ["agent", "agent.ts", "SIGTERM"],
    ["manager", "manager.ts", "SIGKILL"],
  ] as const
) {
  Deno.test(`deno task chat: its ${role} process ended by ${signal} mid-run is restarted and the run completes with every turn once`, async () => {
    const rig = await FaultRig.start({ tokenDelayMs: 20, wordsPerReply: 12 });
    try {
      const chat = await rig.spawn(
        "main.ts",
        ["--story", STORY, "--max-turns", "6", "--no-analysis"],
        "chat",
      );
      const id = await newestId(rig);
      await rig.waitForTokens(id, 3);
      const victim = await childRunning(chat, script);
      Deno.kill(victim, signal);
      // A new process takes its place.
      await until(`a new ${script} process`, async () => {
        const pid = await childRunning(chat, script);
        return pid !== victim ? pid : undefined;
      });
      assertEquals(await chat.wait(60_000), 0, chat.describe());
      await assertTurnLog(rig, id, { turns: 6 });
    } finally {
      await rig.close();
    }
  });
}

Deno.test("deno task chat --pairs 200 completes every run through one manager and one agent process", async () => {
  const rig = await FaultRig.start({ wordsPerReply: 8 });
  try {
    const chat = await rig.spawn(
      "main.ts",
      ["--story", STORY, "--pairs", "200", "--max-turns", "4", "--concurrency", "8"],
      "chat",
    );
    let most = 0;
    const watch = setInterval(async () => {
      if (!chat.exited) most = Math.max(most, (await children(chat.pid)).length);
    }, 200);
    const code = await chat.wait(120_000).finally(() => clearInterval(watch));
    assertEquals(code, 0, chat.describe());
    const ids = await rig.store.ids(500);
    assertEquals(ids.length, 200);
    for (const id of ids) {
      const meta = await rig.store.require(id);
      assertEquals([meta.status, meta.turns], ["completed", 4], id);
    }
    assert(most <= 2, `chat ran ${most} child processes at once, expected a manager and one agent`);
    // The comparison of the runs closes the output.
    assert(/200 of 200 runs completed/.test(chat.stdout()), chat.stdout().slice(-2000));
  } finally {
    await rig.close();
  }
});

Deno.test("deno task chat --pairs serves conversations in turn: none waits behind another's next turn", async () => {
  const pairs = 5;
  const rig = await FaultRig.start({ tokenDelayMs: 2, wordsPerReply: 6 });
  try {
    const chat = await rig.spawn(
      "main.ts",
      ["--story", STORY, "--pairs", String(pairs), "--max-turns", "6", "--concurrency", "1"],
      "chat",
    );
    assertEquals(await chat.wait(90_000), 0, chat.describe());
    // Every response in the order it was recorded, across all conversations.
    const order: { id: string; at: string }[] = [];
    for (const id of await rig.store.ids(pairs)) {
      for (const slot of [1, 2] as const) {
        for (
          const [entry] of await rig.redis.xrange(conversationKeys(id).responses(slot), "-", "+")
        ) {
          order.push({ id, at: entry });
        }
      }
    }
    const key = (e: string) => e.split("-").map(Number) as [number, number];
    order.sort((a, b) => {
      const [am, as] = key(a.at);
      const [bm, bs] = key(b.at);
      return am - bm || as - bs;
    });
    // With one generation at a time and first-come-first-served tickets,
    // between two turns of one conversation each other one speaks at most once.
    const lastAt = new Map<string, number>();
    order.forEach(({ id }, i) => {
      const prev = lastAt.get(id);
      if (prev !== undefined) {
        const between = order.slice(prev + 1, i).map((o) => o.id);
        assert(
          between.length <= pairs - 1 && new Set(between).size === between.length,
          `conversation ${id} waited behind ${between.join(", ")}`,
        );
      }
      lastAt.set(id, i);
    });
  } finally {
    await rig.close();
  }
});

Deno.test("deno task chat: Redis down past max_unavailable_seconds ends chat with a clear message, and the run resumes once Redis is back", async () => {
  const rig = await FaultRig.start({
    aof: true,
    tokenDelayMs: 30,
    wordsPerReply: 25,
    config: { redis: { max_unavailable_seconds: 3 } },
  });
  try {
    const chat = await rig.spawn(
      "main.ts",
      ["--story", STORY, "--max-turns", "8", "--no-analysis"],
      "chat",
    );
    const id = await newestId(rig);
    await rig.waitForTokens(id, 2);
    await rig.redisServer.kill();
    const code = await chat.wait(60_000);
    assertEquals(code, 1, chat.describe());
    const err = chat.stderr();
    assert(err.includes("has been unreachable for more than 3 s"), chat.describe());
    assert(err.includes(`deno task chat --resume ${id}`), chat.describe());
    assert(!hasStackTrace(err), chat.describe());
    // No child is left behind, and the run was left as it was: resumable.
    assertEquals((await children(chat.pid)).length, 0);
    await rig.redisServer.restart();
    assertEquals((await rig.meta(id)).status, "running");
    const resumed = await rig.spawn("main.ts", ["--resume", id, "--no-analysis"], "chat (resumed)");
    assertEquals(await resumed.wait(60_000), 0, resumed.describe());
    await assertTurnLog(rig, id, { turns: 8 });
  } finally {
    await rig.close();
  }
});

/**
 * `deno task chat` hands its children the configuration on their stdin, not
 * in their environment: a Redis password kept only in a 0600 config file
 * shows up in no child's environment (as `ps eww` prints it), the run
 * completes, and a child started again after SIGKILL gets its configuration
 * the same way. Real processes, a password-protected redis-server, the
 * Ollama double.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  assertTurnLog,
  childProcesses,
  FAST_CONFIG,
  FaultRig,
  STORY,
  until,
} from "../helpers/fault_rig.ts";
import { mergeLayers } from "../../lib/config/config_layer.ts";

const PASSWORD = "child-env-s3cr3t-MARKER";

/** A process's command line and environment, as `ps eww` shows them to anyone of its user. */
async function psEnvironment(pid: number): Promise<string> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["eww", "-o", "args=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout);
}

/** Fails when the environment of `pid` holds the password or an inherited config. */
async function assertCleanEnvironment(pid: number, what: string): Promise<void> {
  const text = await psEnvironment(pid);
  assert(text.includes("agent.ts") || text.includes("manager.ts"), `${what}: ps saw ${text}`);
  assert(!text.includes(PASSWORD), `${what} has the Redis password in its environment: ${text}`);
  assert(!text.includes("DIALOGUE_CONFIG_JSON"), `${what} has a config in its environment`);
  assert(text.includes("DIALOGUE_CONFIG_FROM=stdin"), `${what} was not told to read stdin`);
}

Deno.test("deno task chat: a Redis password from a 0600 config file reaches no child's environment, and a restarted child still gets its config", async () => {
  const rig = await FaultRig.start({ tokenDelayMs: 20, wordsPerReply: 12 });
  try {
    // The server wants a password from now on; the rig's own client is already in.
    await rig.redis.config("SET", "requirepass", PASSWORD);
    await Deno.writeTextFile(
      rig.configFile,
      JSON.stringify(
        mergeLayers(FAST_CONFIG, {
          redis: { url: rig.redisServer.url, password: PASSWORD },
        }),
      ),
    );
    await Deno.chmod(rig.configFile, 0o600);
    delete rig.env.REDIS_URL; // only the file knows where Redis is, and its password
    const chat = await rig.spawn(
      "main.ts",
      ["--story", STORY, "--max-turns", "6", "--no-analysis"],
      "chat",
    );
    const id = await until("the conversation", async () => await rig.store.latest());
    await rig.waitForTokens(id, 2);
    const children = await childProcesses(chat.pid);
    assertEquals(children.length, 2, JSON.stringify(children));
    for (const child of children) await assertCleanEnvironment(child.pid, child.cmd);

    const agent = children.find((c) => c.cmd.includes("/agent.ts "))!;
    Deno.kill(agent.pid, "SIGKILL");
    const restarted = await until("the agent started again", async () => {
      const found = (await childProcesses(chat.pid)).find((c) => c.cmd.includes("/agent.ts "));
      return found && found.pid !== agent.pid ? found.pid : undefined;
    });
    await assertCleanEnvironment(restarted, "the restarted agent");

    assertEquals(await chat.wait(60_000), 0, chat.describe());
    await assertTurnLog(rig, id, { turns: 6 });
    assert(!chat.stderr().includes(PASSWORD), "the password was printed");
  } finally {
    await rig.close();
  }
});

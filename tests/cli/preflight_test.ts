/**
 * The set-up check `deno task test` runs first: which missing program is
 * installed how (a pure decision over root, apt-get and brew), and the
 * one-line stop when nothing can install it — run for real with a PATH that
 * holds only deno (nothing is ever installed by a test).
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import {
  CHROMIUM,
  type InstallHost,
  planPreflight,
  REDIS_SERVER,
} from "../../lib/cli/preflight.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const NOTHING: InstallHost = { root: false, apt: false, brew: false };

Deno.test("planPreflight() is ready when nothing is missing, whatever the host offers", () => {
  for (const root of [false, true]) {
    for (const apt of [false, true]) {
      for (const brew of [false, true]) {
        assertEquals(planPreflight("test", [], { root, apt, brew }), { action: "ready" });
      }
    }
  }
});

Deno.test("planPreflight() installs with apt-get as root, every missing program in one command", () => {
  assertEquals(
    planPreflight("test", [REDIS_SERVER, CHROMIUM], { ...NOTHING, root: true, apt: true }),
    {
      action: "install",
      programs: [REDIS_SERVER, CHROMIUM],
      commands: [
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "redis-server", "chromium"],
      ],
    },
  );
});

Deno.test("planPreflight() installs redis with brew, but not Chromium, which must be at /usr/bin/chromium", () => {
  const host = { ...NOTHING, brew: true };
  assertEquals(planPreflight("chat", [REDIS_SERVER], host), {
    action: "install",
    programs: [REDIS_SERVER],
    commands: [["brew", "install", "redis"]],
  });
  const plan = planPreflight("test", [CHROMIUM], host);
  assertEquals(plan.action, "stop");
  if (plan.action !== "stop") return;
  assertStringIncludes(plan.message, "/usr/bin/chromium");
  assertStringIncludes(plan.message, "'sudo apt-get install -y chromium'");
  assert(!plan.message.includes("brew"), plan.message);
});

Deno.test("planPreflight() stops with one line naming each missing program and its install command when it cannot install without asking", () => {
  // Not root (sudo could ask for a password), or no package manager at all.
  for (const host of [NOTHING, { ...NOTHING, apt: true }, { ...NOTHING, root: true }]) {
    const plan = planPreflight("test", [REDIS_SERVER, CHROMIUM], host);
    assertEquals(plan.action, "stop", JSON.stringify(host));
    if (plan.action !== "stop") continue;
    assert(!plan.message.includes("\n"), plan.message);
    assertStringIncludes(plan.message, "redis-server");
    assertStringIncludes(plan.message, "chromium (at /usr/bin/chromium)");
    assertStringIncludes(plan.message, "'sudo apt-get install -y redis-server chromium'");
    assertStringIncludes(plan.message, "then run 'deno task test' again");
  }
  const redisOnly = planPreflight("chat", [REDIS_SERVER], NOTHING);
  assertEquals(redisOnly.action, "stop");
  if (redisOnly.action === "stop") {
    assertStringIncludes(redisOnly.message, "'brew install redis' (macOS)");
    assertStringIncludes(redisOnly.message, "'deno task chat'");
  }
});

Deno.test("the test task runs the preflight first, with explicit permissions", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  const [first, second] = (tasks.test.command as string).split(" && ");
  assert(first?.startsWith("deno run ") && first.endsWith(" scripts/preflight.ts test"), first);
  assert(second?.startsWith("deno test "), second);
  assert(!/\s-A\b|--allow-all/.test(tasks.test.command), tasks.test.command);
});

Deno.test("scripts/preflight.ts with redis-server off PATH stops with one line naming it and the command that installs it", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  const permissions = (tasks.test.command as string).split(" && ")[0]!.split(/\s+/)
    .filter((w) => w.startsWith("--allow-"));
  const bin = await Deno.makeTempDir({ prefix: "dialogue_preflight_" });
  try {
    // A PATH with only deno: no redis-server, and no apt-get or brew to install it with.
    await Deno.symlink(Deno.execPath(), `${bin}/deno`);
    const output = await new Deno.Command(`${bin}/deno`, {
      args: ["run", "--quiet", ...permissions, `${ROOT}scripts/preflight.ts`, "test"],
      cwd: ROOT,
      clearEnv: true,
      env: { PATH: bin, HOME: Deno.env.get("HOME") ?? "/tmp" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 1, stderr);
    const lines = stderr.split("\n").filter((l) => l.trim() !== "");
    assertEquals(lines.length, 1, stderr);
    assertStringIncludes(lines[0]!, "redis-server");
    assertStringIncludes(lines[0]!, "'sudo apt-get install -y redis-server");
    assertStringIncludes(lines[0]!, "'brew install redis");
    assertEquals(new TextDecoder().decode(output.stdout), "");
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
});

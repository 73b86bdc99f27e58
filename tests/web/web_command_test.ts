/**
 * `deno task web` as a process, with the permissions its task grants: the
 * help, the URL it prints (with the token off loopback), a clean stop on
 * Ctrl-C, and the one-line errors for a bad flag and a taken port.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../helpers/assert.ts";
import { collect, taskPermissions } from "../helpers/entrypoints.ts";
import { hasStackTrace, until } from "../helpers/fault_rig.ts";
import { RedisServer } from "../../lib/testing/redis_server.ts";
import { WEB_HELP } from "../../web.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function spawnWeb(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${ROOT}deno.json`,
      ...await taskPermissions("web"),
      `${ROOT}web.ts`,
      ...args,
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, out: collect(child.stdout), err: collect(child.stderr) };
}

Deno.test("deno task web grants only what it needs: no -A, run limited to redis-server and deno", async () => {
  const permissions = await taskPermissions("web");
  assert(!permissions.includes("-A") && !permissions.includes("--allow-all"));
  assert(permissions.includes("--allow-run=redis-server,deno"), permissions.join(" "));
  assert(!permissions.some((p) => p === "--allow-run" || p.startsWith("--allow-ffi")));
});

Deno.test("deno task web --help prints the command's help", async () => {
  const { child, out } = await spawnWeb(["--help"]);
  const status = await child.status;
  await out.done;
  assertEquals(status.code, 0);
  assertEquals(out.text().trim(), WEB_HELP.trim());
  assertStringIncludes(WEB_HELP, "--port N");
  assertStringIncludes(WEB_HELP, "--host ADDR");
});

Deno.test("deno task web prints its URL (with the token off loopback), serves, and stops cleanly on Ctrl-C", async () => {
  const redis = await RedisServer.start();
  try {
    for (const host of ["127.0.0.1", "0.0.0.0"]) {
      const { child, out, err } = await spawnWeb(["--port", "0", "--host", host], {
        REDIS_URL: redis.url,
      });
      const line = await until(
        "the URL",
        () => Promise.resolve(/Dashboard: (\S+)/.exec(out.text())?.[1]),
        30_000,
        () => err.text(),
      );
      if (host === "127.0.0.1") {
        assertMatch(line, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      } else {
        assertMatch(line, /^http:\/\/0\.0\.0\.0:\d+\/\?token=[A-Za-z0-9_-]{43}$/);
        assertStringIncludes(out.text(), "every request needs the token");
      }
      const port = new URL(line).port;
      const api = await fetch(`http://127.0.0.1:${port}/api/conversations${new URL(line).search}`);
      assertEquals(api.status, 200);
      assertEquals((await api.json()).cards, []);
      child.kill("SIGINT");
      const status = await child.status;
      await Promise.all([out.done, err.done]);
      assertEquals(status.code, 0, err.text());
      assert(!hasStackTrace(err.text()), err.text());
    }
  } finally {
    await redis.stop();
  }
});

Deno.test("deno task web refuses a bad flag and a taken port in one line", async () => {
  const bad = await spawnWeb(["--port", "70000"]);
  assertEquals((await bad.child.status).code, 2);
  await Promise.all([bad.out.done, bad.err.done]);
  assertStringIncludes(bad.err.text(), "--port");
  const redis = await RedisServer.start();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const busy = await spawnWeb(["--port", String(taken.addr.port)], { REDIS_URL: redis.url });
    const code = (await busy.child.status).code;
    await Promise.all([busy.out.done, busy.err.done]);
    assertEquals(code, 2, busy.err.text());
    assertStringIncludes(
      busy.err.text(),
      `Cannot listen on 127.0.0.1:${taken.addr.port} as it is in use`,
    );
    assert(!hasStackTrace(busy.err.text()), busy.err.text());
  } finally {
    taken.close();
    await redis.stop();
  }
});

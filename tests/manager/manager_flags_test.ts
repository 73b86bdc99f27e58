/** `manager.ts` flags of the pool mode, checked before anything connects. */
import { assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { runEntrypoint } from "../helpers/entrypoints.ts";

/** Nothing listens here: a flag error must come before any connection. */
const env = { REDIS_URL: "redis://127.0.0.1:9" };

Deno.test("manager.ts --pool with a flag of a single run exits 2 naming both", async () => {
  for (const flag of [["--story", "x.json"], ["--conversation", "c1"], ["--resume", "c1"]]) {
    const run = await runEntrypoint("manager.ts", ["--pool", ...flag], { env });
    assertEquals(run.code, 2, run.stderr);
    assertStringIncludes(run.stderr, `Cannot use ${flag[0]} with --pool`);
  }
});

Deno.test("manager.ts --consumer with an unusable name exits 2 naming the value", async () => {
  const run = await runEntrypoint("manager.ts", ["--pool", "--consumer", "two words"], { env });
  assertEquals(run.code, 2, run.stderr);
  assertStringIncludes(run.stderr, `Invalid --consumer "two words"`);
});

Deno.test("manager.ts --help describes --pool and --consumer", async () => {
  const run = await runEntrypoint("manager.ts", ["--help"], { env });
  assertEquals(run.code, 0, run.stderr);
  assertStringIncludes(run.stdout, "--pool");
  assertStringIncludes(run.stdout, "--consumer NAME");
});

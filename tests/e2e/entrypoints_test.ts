/**
 * The entrypoints' command-line contract: `--help` prints the exported help
 * text, bad flags are one-line usage errors with exit code 2, and every
 * process runs with the same narrow permissions whether it is started by a
 * deno.json task or spawned by `main.ts`.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { runEntrypoint, taskPermissions } from "../helpers/entrypoints.ts";
import { ROLE_PERMISSIONS } from "../../lib/cli/process_roles.ts";
import { CHAT_HELP } from "../../main.ts";
import { MANAGER_HELP } from "../../manager.ts";
import { AGENT_HELP } from "../../agent.ts";
import { OBSERVER_HELP } from "../../observer.ts";
import { ANALYZE_HELP } from "../../analyze.ts";
import { CLEAN_HELP } from "../../clean.ts";

const DENO_JSON = new URL("../../deno.json", import.meta.url);

/**
 * Nothing here should reach a Redis or an Ollama; if an entrypoint tried, it
 * would hit a closed port instead of a server another test run owns.
 */
const ISOLATED_ENV = { REDIS_URL: "redis://127.0.0.1:1", OLLAMA_HOST: "http://127.0.0.1:9" };

const HELP: Record<string, string> = {
  "main.ts": CHAT_HELP,
  "manager.ts": MANAGER_HELP,
  "agent.ts": AGENT_HELP,
  "observer.ts": OBSERVER_HELP,
  "analyze.ts": ANALYZE_HELP,
  "clean.ts": CLEAN_HELP,
};

/** The deno.json task that runs each role main.ts spawns. */
const TASK_OF_ROLE: Record<keyof typeof ROLE_PERMISSIONS, string> = {
  manager: "manager",
  agent: "agent",
  observer: "observe",
  analyze: "analyze",
};

async function tasks(): Promise<Record<string, { command: string }>> {
  return JSON.parse(await Deno.readTextFile(DENO_JSON)).tasks;
}

for (const [script, help] of Object.entries(HELP)) {
  Deno.test(`${script} --help prints its help constant and exits 0`, async () => {
    const run = await runEntrypoint(script, ["--help"], { env: ISOLATED_ENV });
    assertEquals(run.code, 0, run.stderr);
    assertEquals(run.stdout, `${help}\n`);
    assertEquals(run.stderr, "");
  });
}

Deno.test("-h is the same as --help", async () => {
  const run = await runEntrypoint("agent.ts", ["-h"], { env: ISOLATED_ENV });
  assertEquals(run.code, 0, run.stderr);
  assertEquals(run.stdout, `${AGENT_HELP}\n`);
});

Deno.test("the permissions main.ts spawns each role with are those of its deno.json task", async () => {
  for (const [role, task] of Object.entries(TASK_OF_ROLE)) {
    const spawned = [...ROLE_PERMISSIONS[role as keyof typeof ROLE_PERMISSIONS]].sort();
    const fromTask = (await taskPermissions(task)).sort();
    assertEquals(spawned, fromTask, `role ${role} vs task ${task}`);
  }
});

Deno.test("the compiled binaries get the permissions of their deno.json tasks", async () => {
  // dist/dialogue-<role> is what main.ts spawns when it runs as a binary.
  const all = await tasks();
  const segments = all.compile!.command.split("&&").map((part) => part.trim().split(/\s+/));
  const binaries: Record<string, string> = {
    "dialogue-chat": "chat",
    "dialogue-manager": "manager",
    "dialogue-agent": "agent",
    "dialogue-observer": "observe",
    "dialogue-analyze": "analyze",
    "dialogue-clean": "clean",
  };
  for (const [binary, task] of Object.entries(binaries)) {
    const segment = segments.find((words) => words.includes(`dist/${binary}`));
    assert(segment, `the compile task builds dist/${binary}`);
    const granted = segment.filter((word) => word.startsWith("--allow-")).sort();
    assertEquals(granted, (await taskPermissions(task)).sort(), binary);
  }
});

Deno.test("no deno.json task grants every permission with -A or --allow-all", async () => {
  for (const [name, task] of Object.entries(await tasks())) {
    const words = task.command.split(/\s+/);
    for (const word of words) {
      assert(
        word !== "-A" && word !== "--allow-all" && !/^-[a-zA-Z]*A[a-zA-Z]*$/.test(word),
        `task ${name} uses ${word}`,
      );
    }
  }
});

Deno.test("an unknown flag exits 2 with one stderr line naming it and --help", async () => {
  const runs = await Promise.all(
    Object.keys(HELP).map(async (script) => ({
      script,
      run: await runEntrypoint(script, ["--bogus-flag"], { env: ISOLATED_ENV }),
    })),
  );
  for (const { script, run } of runs) {
    assertEquals(run.code, 2, `${script}: ${run.stderr}`);
    const lines = run.stderr.trim().split("\n");
    assertEquals(lines.length, 1, `${script} printed:\n${run.stderr}`);
    assertStringIncludes(lines[0]!, "--bogus-flag");
    assertStringIncludes(lines[0]!, "--help");
    assertEquals(run.stdout, "", script);
  }
});

Deno.test("agent.ts --id 3 exits 2 naming --id", async () => {
  const run = await runEntrypoint("agent.ts", ["--id", "3"], { env: ISOLATED_ENV });
  assertEquals(run.code, 2, run.stderr);
  const lines = run.stderr.trim().split("\n");
  assertEquals(lines.length, 1, run.stderr);
  assertStringIncludes(lines[0]!, "--id");
  assertStringIncludes(lines[0]!, "3");
});

Deno.test("agent.ts --conversation without --id exits 2 naming --id", async () => {
  // Without --id the agent is a pool worker; --conversation belongs to single-slot mode.
  const run = await runEntrypoint("agent.ts", ["--conversation", "c1"], { env: ISOLATED_ENV });
  assertEquals(run.code, 2, run.stderr);
  assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
  assertStringIncludes(run.stderr, "--id");
});

Deno.test("observe, analyze and clean list in --help only the configuration flags they take", () => {
  for (const help of [OBSERVER_HELP, ANALYZE_HELP, CLEAN_HELP]) {
    for (const flag of ["--redis-url", "--config", "--log-level", "--log-format"]) {
      assertStringIncludes(help, `  ${flag} `);
    }
    for (const flag of ["--model", "--temperature", "--max-turns", "--topic", "--output"]) {
      assert(!help.includes(`  ${flag} `), `${flag} in:\n${help}`);
    }
  }
  assertStringIncludes(ANALYZE_HELP, "  --ollama-host URL");
  assert(!OBSERVER_HELP.includes("--ollama-host"));
});

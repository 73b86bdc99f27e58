/**
 * `deno task agent`'s command definition: pool flags set their config
 * fields, and a flag of one mode is refused in the other before anything
 * is loaded or connected.
 */
import { assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { parseCommand } from "../../lib/cli/command.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";
import { AGENT_COMMAND } from "../../agent.ts";

async function usageErrorOf(args: string[]): Promise<string> {
  const parsed = parseCommand(AGENT_COMMAND, args);
  try {
    await AGENT_COMMAND.run({
      values: parsed.values,
      positionals: [],
      signal: AbortSignal.abort(),
      loadConfig: () => {
        throw new Error("loaded the configuration before refusing the flags");
      },
    });
  } catch (error) {
    if (error instanceof DialogueError && error.code === ErrorCode.Usage) return error.message;
    throw error;
  }
  throw new Error(`no usage error for ${args.join(" ")}`);
}

Deno.test("agent --concurrency and --models set agents.concurrency and agents.models", () => {
  const parsed = parseCommand(AGENT_COMMAND, ["--concurrency", "3", "--models", "a, b"]);
  assertEquals(parsed.configLayer, { agents: { concurrency: 3, models: ["a", "b"] } });
});

Deno.test("agent refuses pool flags with --id, and --conversation without --id", async () => {
  for (const flag of ["--concurrency 2", "--models a", "--consumer w1"]) {
    const message = await usageErrorOf(["--id", "1", ...flag.split(" ")]);
    assertStringIncludes(message, `Cannot use ${flag.split(" ")[0]} with --id`);
  }
  assertStringIncludes(await usageErrorOf(["--conversation", "c1"]), "without --id");
});

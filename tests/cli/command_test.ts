/**
 * The command definition helper in-process: unknown flags and their
 * suggestion, flags that do not apply, conversation ids, typed values, and
 * the help generated from the definition. No process, no Redis.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";
import {
  type CommandDefinition,
  defineCommand,
  type FlagSpecs,
  helpText,
  parseCommand,
} from "../../lib/cli/command.ts";
import { checkConsumerName, checkConversationId } from "../../lib/cli/flag_spec.ts";
import { editDistance, nearestName } from "../../lib/cli/nearest_name.ts";
import {
  ALL_CONFIG_FLAGS,
  CONFIG_FLAG_SPECS,
  configFromFlags,
  CONNECTION_FLAGS,
} from "../../lib/cli/cli.ts";
import { OBSERVE_COMMAND } from "../../observer.ts";
import { ANALYZE_COMMAND } from "../../analyze.ts";
import { CLEAN_COMMAND } from "../../clean.ts";

/** A command shaped like chat: every config flag plus a few of its own. */
const CHAT_LIKE = defineCommand({
  name: "chat",
  usage: ["deno task chat [options]"],
  summary: "Runs a conversation.",
  flags: {
    resume: { type: "conversation-id", help: "continue an interrupted conversation" },
    pairs: { type: "integer", min: 1, help: "how many conversations at once [1]" },
    models: {
      type: "list",
      value: "A,B",
      config: ["agents.models"],
      help: "serve only these models",
    },
    concurrency: {
      type: "integer",
      config: ["agents.concurrency"],
      help: "generations in flight [1]",
    },
    pull: { type: "boolean", help: "download missing models" },
    workers: { type: "integer", min: 1, max: 64, help: "agent processes [1]" },
    id: { type: "string", choices: ["1", "2"], help: "which agent slot" },
    consumer: { type: "consumer", help: "stable worker name" },
    tag: { type: "string", multiple: true, help: "a tag (repeatable)" },
  },
  configFlags: ALL_CONFIG_FLAGS,
  run: () => Promise.resolve(0),
});

const MINE: Record<string, CommandDefinition<FlagSpecs>> = {
  observe: OBSERVE_COMMAND,
  analyze: ANALYZE_COMMAND,
  clean: CLEAN_COMMAND,
};

/** The usage error `fn` throws. */
function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert(error instanceof DialogueError, `not a DialogueError: ${error}`);
    assertEquals(error.code, ErrorCode.Usage);
    assert(!error.message.includes("\n"), `more than one line: ${error.message}`);
    return error.message;
  }
  throw new Error("expected a usage error");
}

Deno.test("an unknown flag suggests the nearest flag of the command by edit distance", () => {
  assertEquals(
    usage(() => parseCommand(CHAT_LIKE, ["--max-turn", "3"])),
    "Unknown flag --max-turn for deno task chat: did you mean --max-turns? (see 'deno task chat --help')",
  );
  assertStringIncludes(usage(() => parseCommand(CHAT_LIKE, ["--temprature=1"])), "--temperature?");
  assertStringIncludes(usage(() => parseCommand(CLEAN_COMMAND, ["--dryrun"])), "--dry-run?");
  assertStringIncludes(usage(() => parseCommand(ANALYZE_COMMAND, ["--jsno"])), "--json?");
});

Deno.test("an unknown flag that starts only one flag suggests that flag", () => {
  assertStringIncludes(
    usage(() => parseCommand(OBSERVE_COMMAND, ["--conv", "c1"])),
    "did you mean --conversation?",
  );
});

Deno.test("an unknown flag far from every flag is named with a pointer to --help only", () => {
  const message = usage(() => parseCommand(OBSERVE_COMMAND, ["--bogus-flag"]));
  assertEquals(
    message,
    "Unknown flag --bogus-flag for deno task observe (see 'deno task observe --help')",
  );
  assertStringIncludes(usage(() => parseCommand(OBSERVE_COMMAND, ["-x"])), "Unknown flag -x");
  // Names that objects inherit are flags like any other.
  for (const name of ["toString", "constructor", "__proto__"]) {
    assertStringIncludes(
      usage(() => parseCommand(OBSERVE_COMMAND, [`--${name}`])),
      `Unknown flag --${name} for deno task observe`,
    );
  }
});

Deno.test("an unknown flag whose nearest is a config flag the command refuses says so", () => {
  assertStringIncludes(
    usage(() => parseCommand(OBSERVE_COMMAND, ["--max-turn", "3"])),
    "the nearest, --max-turns, does not apply to it",
  );
});

Deno.test("a config flag that does not apply names the command and lists its flags", () => {
  const message = usage(() => parseCommand(OBSERVE_COMMAND, ["--list", "--temperature", "2"]));
  assertEquals(
    message,
    "Flag --temperature does not apply to deno task observe: its flags are --conversation, --list, --limit, --config, --redis-url, --log-level, --log-format, --help",
  );
  // Named before any other mistake on the line, whatever its position.
  assertStringIncludes(
    usage(() => parseCommand(CLEAN_COMMAND, ["--older-than", "5y", "--model=x"])),
    "Flag --model does not apply to deno task clean",
  );
});

Deno.test("observe and clean take the connection flags only; analyze adds the backend flags and --num-ctx", () => {
  const taken = (definition: CommandDefinition<FlagSpecs>) =>
    ALL_CONFIG_FLAGS.filter((name) => {
      try {
        parseCommand(definition, [`--${name}`, "x"]);
        return true;
      } catch (error) {
        return !(error as Error).message.startsWith(`Flag --${name} does not apply`);
      }
    });
  assertEquals(taken(OBSERVE_COMMAND), [...CONNECTION_FLAGS]);
  assertEquals(taken(CLEAN_COMMAND), [...CONNECTION_FLAGS]);
  assertEquals(
    taken(ANALYZE_COMMAND),
    [...CONNECTION_FLAGS, "ollama-host", "backend", "openai-base-url", "model-file", "num-ctx"]
      .sort((
        a,
        b,
      ) => ALL_CONFIG_FLAGS.indexOf(a as never) - ALL_CONFIG_FLAGS.indexOf(b as never)),
  );
});

Deno.test("every command validates conversation ids with the same check, as flags or arguments", () => {
  const bad = "bad id!";
  const rule = checkConversationIdRule();
  const messages = [
    usage(() => parseCommand(OBSERVE_COMMAND, ["--conversation", bad])),
    usage(() => parseCommand(CLEAN_COMMAND, ["--conversation", "c1", "--conversation", bad])),
    usage(() => parseCommand(ANALYZE_COMMAND, ["--compare", "c1", bad])),
    usage(() => parseCommand(CHAT_LIKE, ["--resume", bad])),
  ];
  assertEquals(messages, [
    `Invalid --conversation "bad id!": ${rule}`,
    `Invalid --conversation "bad id!": ${rule}`,
    `Invalid conversation id "bad id!": ${rule}`,
    `Invalid --resume "bad id!": ${rule}`,
  ]);
  for (const id of ["../x", "a b", "", "x".repeat(129), "dialogue:{x}"]) {
    usage(() => parseCommand(OBSERVE_COMMAND, ["--conversation", id]));
  }
  const ok = parseCommand(CLEAN_COMMAND, ["--conversation", "c-1", "--conversation", "C_2.x"]);
  assertEquals(ok.values.conversation, ["c-1", "C_2.x"]);
  assertEquals(parseCommand(ANALYZE_COMMAND, ["c1", "c2", "--compare"]).positionals, ["c1", "c2"]);
});

/** The part of checkConversationId's message after the value. */
function checkConversationIdRule(): string {
  return usage(() => checkConversationId("?", "x")).replace(/^Invalid x "\?": /, "");
}

Deno.test("a command without arguments refuses one, naming it", () => {
  assertStringIncludes(usage(() => parseCommand(OBSERVE_COMMAND, ["c1"])), "c1");
});

Deno.test("flag values come back typed: integers, lists, repeated and boolean flags", () => {
  const parsed = parseCommand(CHAT_LIKE, [
    "--pairs",
    "3",
    "--models",
    "a, b,,c",
    "--pull",
    "--tag",
    "x",
    "--tag=y",
  ]);
  assertEquals(parsed.values, { pairs: 3, models: ["a", "b", "c"], pull: true, tag: ["x", "y"] });
  assertEquals(parsed.help, false);
  assertEquals(parseCommand(OBSERVE_COMMAND, ["--limit", "7"]).values.limit, 7);
});

Deno.test("an integer flag refuses a value below its minimum or not a whole number", () => {
  for (const value of ["0", "-2", "1.5", "abc", "9999999999999999999"]) {
    assertEquals(
      usage(() => parseCommand(CHAT_LIKE, [`--pairs=${value}`])),
      `Invalid --pairs ${JSON.stringify(value)}: expected a whole number ≥ 1`,
    );
  }
  assertStringIncludes(
    usage(() => parseCommand(CHAT_LIKE, ["--models", " , "])),
    "comma-separated",
  );
});

Deno.test("an integer flag with a maximum names the range; a flag with choices names them", () => {
  assertEquals(
    usage(() => parseCommand(CHAT_LIKE, ["--workers", "65"])),
    'Invalid --workers "65": expected a whole number from 1 to 64',
  );
  assertEquals(parseCommand(CHAT_LIKE, ["--workers", "64"]).values.workers, 64);
  assertEquals(
    usage(() => parseCommand(CHAT_LIKE, ["--id", "3"])),
    'Invalid --id "3": expected 1 or 2',
  );
  assertEquals(parseCommand(CHAT_LIKE, ["--id", "2"]).values.id, "2");
  assertStringIncludes(helpText(CHAT_LIKE), "  --id 1|2               which agent slot");
});

Deno.test("consumer names are checked by one function for every command", () => {
  assertEquals(parseCommand(CHAT_LIKE, ["--consumer", "agent-h1:2"]).values.consumer, "agent-h1:2");
  for (const name of ["a b", "", "x".repeat(129), "{tag}"]) {
    assertEquals(
      usage(() => parseCommand(CHAT_LIKE, ["--consumer", name])),
      usage(() => checkConsumerName(name, "--consumer")),
    );
  }
});

Deno.test("a flag without its value and a boolean given one are one-line usage errors", () => {
  assertStringIncludes(usage(() => parseCommand(OBSERVE_COMMAND, ["--limit"])), "--limit");
  assertStringIncludes(usage(() => parseCommand(CLEAN_COMMAND, ["--all=yes"])), "--all");
});

Deno.test("config flags given are passed on as typed, for the config schema to check", () => {
  const parsed = parseCommand(CHAT_LIKE, ["--max-turns", "abc", "--config", "f.jsonc", "--pull"]);
  assertEquals(parsed.configValues, { "max-turns": "abc", config: "f.jsonc" });
  assertEquals(parsed.values, { pull: true });
});

Deno.test("an own flag with a config field sets it with its parsed value", async () => {
  const parsed = parseCommand(CHAT_LIKE, ["--concurrency", "4", "--models", "a,b", "--pull"]);
  assertEquals(parsed.configLayer, { agents: { concurrency: 4, models: ["a", "b"] } });
  const config = await configFromFlags(parsed.configValues, parsed.configLayer);
  assertEquals(config.agents.concurrency, 4);
  assertEquals(config.agents.models, ["a", "b"]);
  assertEquals(parseCommand(CHAT_LIKE, ["--pull"]).configLayer, {});
});

Deno.test("--help wins over bad values of the command's own flags but not over unknown flags", () => {
  assertEquals(parseCommand(OBSERVE_COMMAND, ["--limit", "0", "-h"]).help, true);
  usage(() => parseCommand(OBSERVE_COMMAND, ["--help", "--temperature", "1"]));
});

Deno.test("defineCommand() refuses an own flag that reuses a shared flag's name", () => {
  for (const name of ["help", "redis-url"]) {
    let thrown: unknown;
    try {
      defineCommand({
        name: "x",
        usage: ["x"],
        summary: "",
        flags: { [name]: { type: "string", help: "" } },
        configFlags: [],
        run: () => Promise.resolve(0),
      });
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof TypeError, name);
  }
});

Deno.test("the help lists exactly the flags each command accepts, with their help text", () => {
  for (const [name, definition] of Object.entries({ ...MINE, chat: CHAT_LIKE })) {
    const help = helpText(definition);
    const listed = [...help.matchAll(/^ {2}(?:-\w, )?--([\w-]+)/gm)].map((m) => m[1]!);
    const accepted = [...Object.keys(definition.flags), "help", ...definition.configFlags];
    assertEquals(listed.sort(), accepted.sort(), name);
    for (const spec of Object.values(definition.flags)) {
      for (const line of spec.help.split("\n")) assertStringIncludes(help, line, name);
    }
    for (const flag of definition.configFlags) {
      for (const line of CONFIG_FLAG_SPECS[flag].help.split("\n")) {
        assertStringIncludes(help, line, name);
      }
    }
    assert(help.startsWith(`Usage: deno task ${definition.name}`), name);
  }
});

Deno.test("the help puts descriptions at one column, continues them under it and groups sections", () => {
  const help = helpText(ANALYZE_COMMAND);
  assertStringIncludes(
    help,
    "  --html                 self-contained HTML page with charts and the transcript,\n" +
      "                         written to <reports.dir>/dialogue-<id>.html (default: reports\n" +
      "                         in the local store's data folder) unless --out is given",
  );
  assertStringIncludes(help, "Arguments:\n  ID                     conversation id");
  for (const section of ["Report:", "Several runs:", "Datasets:", "Configuration ("]) {
    assertStringIncludes(help, `\n\n${section}`);
  }
  assertStringIncludes(helpText(CHAT_LIKE), "  -h, --help             show this help");
  const long = defineCommand({
    name: "x",
    usage: ["x"],
    summary: "",
    flags: { "a-very-long-flag-name": { type: "string", value: "VALUE", help: "its help" } },
    configFlags: [],
    run: () => Promise.resolve(0),
  });
  assertStringIncludes(
    helpText(long),
    "  --a-very-long-flag-name VALUE\n                         its help",
  );
});

Deno.test("editDistance() counts edits, a swap of neighbours as one; nearestName() keeps to a quarter", () => {
  assertEquals(editDistance("max-turn", "max-turns"), 1);
  assertEquals(editDistance("modle", "model"), 1);
  assertEquals(editDistance("", "abc"), 3);
  assertEquals(editDistance("kitten", "sitting"), 3);
  assertEquals(nearestName("max-turn", ["max-turns", "model"]), "max-turns");
  assertEquals(
    nearestName("limt", ["list", "limit"]),
    "limit",
    "the longer shared start wins a tie",
  );
  assertEquals(nearestName("mdl", ["model"]), undefined);
  assertEquals(nearestName("lo", ["log-level", "log-format"]), undefined);
  assertEquals(
    nearestName("log", ["log-level", "log-format"]),
    undefined,
    "two flags start with it",
  );
});

/**
 * `deno task web`: the dashboard in a browser — every conversation live,
 * each one's messages token by token with their figures and charts, the
 * analysis at the end, and starting, interrupting and resuming runs.
 *
 * @module
 */
import { defineCommand, helpText, runCommand } from "./lib/cli/command.ts";
import { CONNECTION_FLAGS } from "./lib/cli/cli.ts";
import { setupLogging } from "./lib/base/logger.ts";
import { usageError } from "./lib/base/dialogue_error.ts";
import { DEFAULT_WEB_HOST, DEFAULT_WEB_PORT, startWebServer } from "./lib/web/web_server.ts";

/** `deno task web`: flags, help and what it does. */
export const WEB_COMMAND = defineCommand({
  name: "web",
  usage: ["deno task web [--port N] [--host ADDR] [options]"],
  summary: `Serves the dashboard and prints its URL: every conversation live (running
first), each one's messages token by token with their figures and charts, the
analysis when a run ends, and controls to start, interrupt and resume runs.
It listens on ${DEFAULT_WEB_HOST} unless --host says otherwise; on any other address
every request needs the access token, which the printed URL carries. Runs
started from the page are served by the pools ('deno task agent' and
'deno task manager --pool', or 'deno task chat').`,
  flags: {
    port: {
      type: "integer",
      min: 0,
      max: 65535,
      help: `port to listen on; 0 picks a free one [${DEFAULT_WEB_PORT}]`,
    },
    host: {
      type: "string",
      value: "ADDR",
      help: `address to listen on [${DEFAULT_WEB_HOST}]; another address\n` +
        "needs the access token (printed with the URL)",
    },
  },
  // Reads Redis and creates runs: the connection flags; a run's settings come from the page.
  configFlags: CONNECTION_FLAGS,
  async run({ values, signal, loadConfig }) {
    const host = values.host ?? DEFAULT_WEB_HOST;
    if (host.trim() === "") throw usageError('Invalid --host "": give an address such as 0.0.0.0');
    const config = await loadConfig();
    await setupLogging(config.logging, "web");
    const server = await startWebServer({
      config,
      configFor: (layer) => loadConfig(layer),
      host,
      port: values.port ?? DEFAULT_WEB_PORT,
    });
    console.log(`Dashboard: ${server.url}`);
    if (!server.loopback) {
      console.log("Not on loopback: every request needs the token in that URL; keep it secret.");
    }
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await server.close();
    return 0;
  },
});

/** `deno task web --help`. */
export const WEB_HELP = helpText(WEB_COMMAND);

if (import.meta.main) await runCommand(WEB_COMMAND);

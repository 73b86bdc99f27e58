/**
 * Running the real entrypoints as processes in tests, with the permissions
 * their deno.json tasks grant.
 *
 * @module
 */
const ROOT = new URL("../../", import.meta.url).pathname;

/** Permissions per entrypoint, as in deno.json's tasks. */
export async function taskPermissions(task: string): Promise<string[]> {
  const json = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const command: string = json.tasks[task].command;
  return command.split(/\s+/).filter((part) => part.startsWith("--allow-"));
}

const TASK_OF: Record<string, string> = {
  "main.ts": "chat",
  "manager.ts": "manager",
  "agent.ts": "agent",
  "observer.ts": "observe",
  "analyze.ts": "analyze",
  "clean.ts": "clean",
  "web.ts": "web",
  "batch.ts": "batch",
};

/** Options of {@linkcode spawnEntrypoint}. */
export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Written to the process's stdin, then closed (as main.ts feeds its children). */
  stdin?: string;
}

/** Starts an entrypoint (e.g. `main.ts`) with piped output. */
export async function spawnEntrypoint(
  script: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<Deno.ChildProcess> {
  const permissions = await taskPermissions(TASK_OF[script]!);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${ROOT}deno.json`,
      ...permissions,
      `${ROOT}${script}`,
      ...args,
    ],
    cwd: options.cwd ?? ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin)).catch(() => {});
    await writer.close().catch(() => {});
  }
  return child;
}

/** What a finished entrypoint printed. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/**
 * Runs an entrypoint to its end; kills it after `timeoutMs`.
 */
export async function runEntrypoint(
  script: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const started = performance.now();
  const child = await spawnEntrypoint(script, args, options);
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, options.timeoutMs ?? 60_000);
  const output = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    elapsedMs: performance.now() - started,
  };
}

/** Reads a piped stream into a growing string (for watching live output). */
export function collect(
  stream: ReadableStream<Uint8Array>,
): { text: () => string; done: Promise<void> } {
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  })();
  return { text: () => text, done };
}

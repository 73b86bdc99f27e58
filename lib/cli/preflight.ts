/**
 * Set-up before anything runs: the programs a task needs besides Deno
 * (`redis-server`; for the tests also Chromium at `/usr/bin/chromium`) are
 * checked first. A missing one is installed when that is safe and needs no
 * questions — as root with `apt-get`, or with `brew` — and otherwise the task
 * stops with one line naming it and the command that installs it, instead of
 * a cascade of failing tests. The decision is a pure function
 * ({@linkcode planPreflight}); {@linkcode runPreflight} does the I/O.
 *
 * @module
 */

/** A program a task needs. */
export interface Program {
  /** Name on `PATH`, e.g. `redis-server`. */
  name: string;
  /** Where it must be, when only one place will do (e.g. `/usr/bin/chromium`). */
  path?: string;
  /** What it is needed for, in a few words. */
  why: string;
  /** Debian/Ubuntu package. */
  apt: string;
  /** Homebrew formula; unset when brew cannot put it where it must be. */
  brew?: string;
}

/** The Redis server: the tests start their own; chat starts the local store. */
export const REDIS_SERVER: Program = {
  name: "redis-server",
  why: "the tests start their own Redis servers",
  apt: "redis-server",
  brew: "redis",
};

/** Headless Chromium at the path the HTML report's browser test drives. */
export const CHROMIUM: Program = {
  name: "chromium",
  path: "/usr/bin/chromium",
  why: "the HTML report is checked in headless Chromium",
  apt: "chromium",
};

/** Programs each task needs. */
export const TASK_PROGRAMS: Readonly<Record<"test" | "chat", readonly Program[]>> = {
  test: [REDIS_SERVER, CHROMIUM],
  chat: [REDIS_SERVER],
};

/** What the machine offers for installing. */
export interface InstallHost {
  /** Running as root (apt-get needs it; sudo could ask for a password). */
  root: boolean;
  /** `apt-get` is on PATH. */
  apt: boolean;
  /** `brew` is on PATH. */
  brew: boolean;
}

/** What to do before the task runs. */
export type PreflightPlan =
  | { action: "ready" }
  | { action: "install"; programs: readonly Program[]; commands: string[][] }
  | { action: "stop"; message: string };

/**
 * What to do about the `missing` programs of `task` on `host`: nothing, the
 * commands that install them all without a question, or one line saying what
 * is missing and how to install it.
 *
 * @example
 * ```ts
 * import { deepStrictEqual } from "node:assert/strict";
 * import { planPreflight, REDIS_SERVER } from "./preflight.ts";
 * deepStrictEqual(
 *   planPreflight("test", [REDIS_SERVER], { root: false, apt: false, brew: true }),
 *   { action: "install", programs: [REDIS_SERVER], commands: [["brew", "install", "redis"]] },
 * );
 * ```
 */
export function planPreflight(
  task: string,
  missing: readonly Program[],
  host: InstallHost,
): PreflightPlan {
  if (missing.length === 0) return { action: "ready" };
  const apt = missing.map((p) => p.apt);
  if (host.root && host.apt) {
    return {
      action: "install",
      programs: missing,
      commands: [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", ...apt]],
    };
  }
  const brew = missing.map((p) => p.brew);
  if (host.brew && brew.every((f) => f !== undefined)) {
    return { action: "install", programs: missing, commands: [["brew", "install", ...brew]] };
  }
  const what = missing.map((p) => `${p.name}${p.path ? ` (at ${p.path})` : ""} (${p.why})`);
  const hows = [`'sudo apt-get install -y ${apt.join(" ")}' (Debian, Ubuntu)`];
  if (brew.every((f) => f !== undefined)) hows.push(`'brew install ${brew.join(" ")}' (macOS)`);
  return {
    action: "stop",
    message: `Cannot run 'deno task ${task}' as ${what.join(" and ")} ${
      missing.length > 1 ? "are" : "is"
    } missing: install ${missing.length > 1 ? "them" : "it"} with ${
      hows.join(" or ")
    }, then run 'deno task ${task}' again`,
  };
}

/** Whether `name` is an executable file in one of the `PATH` folders. */
export async function onPath(name: string, path = Deno.env.get("PATH") ?? ""): Promise<boolean> {
  for (const dir of path.split(":").filter(Boolean)) {
    if (await _isExecutable(`${dir}/${name}`)) return true;
  }
  return false;
}

/** Options of {@linkcode runPreflight}. */
export interface RunPreflightOptions {
  /** Progress lines (what is being installed). @default console.error */
  log?: (line: string) => void;
  /** Check these instead of the task's list. @default TASK_PROGRAMS[task] */
  programs?: readonly Program[];
}

/**
 * Checks the programs `task` needs and installs the missing ones when that
 * is safe; returns `undefined` when the task may run, else the one line to
 * print before stopping.
 */
export async function runPreflight(
  task: keyof typeof TASK_PROGRAMS,
  options: RunPreflightOptions = {},
): Promise<string | undefined> {
  const log = options.log ?? console.error;
  const missing = await _missing(options.programs ?? TASK_PROGRAMS[task]);
  const host: InstallHost = {
    root: await _isRoot(),
    // Only what this process may run: a permission prompt is a question too.
    apt: await onPath("apt-get") && await _mayRun("apt-get"),
    brew: await onPath("brew") && await _mayRun("brew"),
  };
  const plan = planPreflight(task, missing, host);
  if (plan.action === "ready") return undefined;
  if (plan.action === "stop") return plan.message;
  log(`preflight: installing ${plan.programs.map((p) => p.name).join(", ")}`);
  for (const [command, ...args] of plan.commands) {
    const status = await new Deno.Command(command!, {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).output();
    if (!status.success) {
      return `Cannot install ${plan.programs.map((p) => p.name).join(", ")} as '${
        [command, ...args].join(" ")
      }' exited with code ${status.code}: run it by hand and read its output`;
    }
  }
  // The Debian package may start a system service; tests and chat start their own.
  if (host.apt && plan.programs.includes(REDIS_SERVER)) await _stopRedisService();
  const still = await _missing(plan.programs);
  if (still.length) {
    return `Cannot find ${
      still.map((p) => p.path ?? p.name).join(", ")
    } after installing it: check the package manager's output above`;
  }
  return undefined;
}

async function _missing(programs: readonly Program[]): Promise<Program[]> {
  const missing: Program[] = [];
  for (const program of programs) {
    const there = program.path ? await _isExecutable(program.path) : await onPath(program.name);
    if (!there) missing.push(program);
  }
  return missing;
}

async function _isExecutable(file: string): Promise<boolean> {
  try {
    const info = await Deno.stat(file);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Installs `program` for `task` when that needs no question (root with
 * apt-get, or brew); whether it is there now. Never throws: without the
 * permission to run a package manager it is simply not installed.
 */
export async function installIfSafe(
  task: keyof typeof TASK_PROGRAMS,
  program: Program,
): Promise<boolean> {
  try {
    return await runPreflight(task, { programs: [program] }) === undefined;
  } catch {
    return false;
  }
}

/** Whether this process may run `command` without a permission prompt. */
async function _mayRun(command: string): Promise<boolean> {
  return (await Deno.permissions.query({ name: "run", command })).state === "granted";
}

/** Root? `Deno.uid()` needs --allow-sys=uid; `id -u` needs --allow-run: either will do. */
async function _isRoot(): Promise<boolean> {
  if ((await Deno.permissions.query({ name: "sys", kind: "uid" })).state === "granted") {
    return Deno.uid() === 0;
  }
  if (!await _mayRun("id")) return false;
  try {
    const { stdout, success } = await new Deno.Command("id", {
      args: ["-u"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    return success && new TextDecoder().decode(stdout).trim() === "0";
  } catch {
    return false;
  }
}

async function _stopRedisService(): Promise<void> {
  try {
    await new Deno.Command("service", {
      args: ["redis-server", "stop"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  } catch {
    // No service manager: nothing was started.
  }
}

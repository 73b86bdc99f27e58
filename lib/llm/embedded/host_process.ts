/**
 * The embedded model's host process seen from the backend: spawning
 * `deno run model_host.ts` with its own, explicit permissions, writing
 * requests to its stdin, matching the events on its stdout to requests by
 * id, and turning its exit into errors for whatever was in flight.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { DialogueError, ErrorCode } from "../../base/dialogue_error.ts";
import { log } from "../../base/logger.ts";
import { sanitizeBounded } from "../../base/sanitize.ts";
import {
  encodeLine,
  type HostConfig,
  HostEvent,
  type HostRequest,
  MAX_EVENT_LINE_CHARS,
  parseLine,
  readLines,
} from "./host_protocol.ts";
import { HOST_PERMISSIONS, hostCommand, hostEnv } from "./host_command.ts";

export { HOST_PERMISSIONS };

/** The host's `ready` event. */
export type HostReady = Extract<HostEvent, { type: "ready" }>;
/** The event that ends a request. */
export type HostAnswer = Extract<HostEvent, { type: "done" | "error" | "embedding" | "count" }>;
/** A request without its id (the process numbers them). */
export type HostCall = HostRequest extends infer R
  ? R extends { id: number } ? Omit<R, "id"> : never
  : never;

/** Lines of the host's stderr that are Deno's or npm's chatter, not a reason. */
const NOISE = /Ignored build scripts|--allow-scripts|nodeModulesDir|^\s*(at |$)|^Warning/;
/** Stderr lines kept to explain an exit. */
const STDERR_TAIL = 20;

interface _Pending {
  resolve: (answer: HostAnswer) => void;
  reject: (error: DialogueError) => void;
  onToken?: ((text: string) => void) | undefined;
}

/** One running model host. */
export class HostProcess {
  /** Resolves when the model is loaded; rejects with why it could not be. */
  readonly ready: Promise<HostReady>;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #pending = new Map<number, _Pending>();
  readonly #stderr: string[] = [];
  readonly #done: Promise<void>;
  #nextId = 1;
  #exit: DialogueError | undefined;
  #fatal: DialogueError | undefined;
  #closing = false;
  #loaded = false;
  #readyResolve!: (ready: HostReady) => void;
  #readyReject!: (error: DialogueError) => void;

  /**
   * Starts a host for `config`.
   *
   * @throws {DialogueError} `llm_unavailable` when deno may not be run or the
   * source of the host is not on disk.
   */
  constructor(config: HostConfig) {
    const { command, binary } = hostCommand();
    const script = new URL("./model_host.ts", import.meta.url);
    const denoJson = new URL("../../../deno.json", import.meta.url);
    if (script.protocol !== "file:") {
      throw new DialogueError(
        ErrorCode.LlmUnavailable,
        `Cannot start the embedded model as its host is not a local file (${script.href}): run DialogueLLM from its source folder, or use --backend ollama`,
      );
    }
    this.ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    this.ready.catch(() => {}); // observed by whoever awaits it; never unhandled
    this.#child = new Deno.Command(command, {
      args: [
        "run",
        "--quiet",
        "--no-prompt",
        "--config",
        fileURLToPath(denoJson),
        ...HOST_PERMISSIONS,
        `--allow-run=${binary}`,
        fileURLToPath(script),
        JSON.stringify(config),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      // Only what Deno and llama.cpp need to find their caches: nothing of
      // this process's environment (a REDIS_URL with a password, an API key)
      // reaches a process that runs native code on model files.
      clearEnv: true,
      env: { ...hostEnv(), NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.ready.then(() => this.#holdLoop(), () => {});
    this.#done = Promise.all([this.#readEvents(), this.#readStderr(), this.#child.status])
      .then(([, , status]) => this.#onExit(status));
  }

  /** The host's process id (for diagnostics and tests). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether the model has loaded (`ready` arrived). */
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Whether the host has exited (or was told to close). */
  get gone(): boolean {
    return this.#closing || this.#exit !== undefined;
  }

  /**
   * Sends `call`; the promise settles with the event that ends it. Token
   * events go to `onToken`.
   */
  send(
    call: HostCall,
    onToken?: (text: string) => void,
  ): { id: number; answer: Promise<HostAnswer> } {
    const id = this.#nextId++;
    const answer = new Promise<HostAnswer>((resolve, reject) => {
      if (this.#exit) return reject(this.#exit);
      this.#pending.set(id, { resolve, reject, onToken });
    });
    if (!this.#exit) this.#write({ ...call, id } as HostRequest);
    this.#holdLoop();
    return { id, answer };
  }

  /** Asks the host to stop generation `id` (it answers `done` or `error` soon after). */
  cancel(id: number): void {
    if (this.#pending.has(id)) this.#write({ type: "cancel", id });
  }

  /**
   * Asks the host to dispose its context, model and llama.cpp and exit, and
   * waits; past `timeoutMs` the process is killed.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#child.ref(); // the caller awaits the exit
    if (!this.#closing && !this.#exit) {
      this.#closing = true;
      this.#write({ type: "close" });
      await this.#stdin.close().catch(() => {});
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), timeoutMs)
    );
    const outcome = await Promise.race([this.#done, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      this.kill();
      await this.#done;
    }
  }

  /** Kills the process at once (SIGKILL). */
  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  /**
   * Keeps the caller's process alive only while something waits on the host
   * (a load, a request): an idle host never holds a process that forgot to
   * close the backend, and when that process exits the host's stdin ends,
   * so it exits too.
   */
  #holdLoop(): void {
    if (this.#exit || this.#closing) return;
    if (this.#pending.size > 0 || !this.#loaded) this.#child.ref();
    else this.#child.unref();
  }

  #write(request: HostRequest): void {
    this.#stdin.write(new TextEncoder().encode(encodeLine(request))).catch(() => {
      // The host is gone: its exit fails what is pending.
    });
  }

  async #readEvents(): Promise<void> {
    try {
      for await (const line of readLines(this.#child.stdout, MAX_EVENT_LINE_CHARS)) {
        const parsed = parseLine(HostEvent, line);
        if (!parsed.ok) {
          this.#exit ??= this.#crash(`it sent an invalid line (${parsed.problem})`);
          this.kill();
          continue;
        }
        this.#dispatch(parsed.value);
      }
    } catch (error) {
      this.#exit ??= this.#crash(`its output failed (${(error as Error).message})`);
      this.kill();
    }
  }

  #dispatch(event: HostEvent): void {
    switch (event.type) {
      case "ready":
        this.#loaded = true;
        return this.#readyResolve(event);
      case "fatal":
        this.#fatal = new DialogueError(event.code, event.message);
        return this.#readyReject(this.#fatal);
      case "closed":
        return;
      case "token":
        return this.#pending.get(event.id)?.onToken?.(event.text);
      default: {
        const pending = this.#pending.get(event.id);
        this.#pending.delete(event.id);
        pending?.resolve(event);
        this.#holdLoop();
      }
    }
  }

  async #readStderr(): Promise<void> {
    try {
      for await (const line of readLines(this.#child.stderr, MAX_EVENT_LINE_CHARS)) {
        // deno-lint-ignore no-control-regex
        const plain = line.replace(/\x1b\[[0-9;]*m/g, "");
        if (NOISE.test(plain)) continue;
        log("llm").debug("model host: {line}", { line: plain });
        this.#stderr.push(plain.slice(0, 500));
        if (this.#stderr.length > STDERR_TAIL) this.#stderr.shift();
      }
    } catch {
      // a runaway stderr line: the exit status still tells
    }
  }

  #onExit(status: Deno.CommandStatus): void {
    const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
    const error = this.#exit ?? this.#fatal ??
      (this.#closing
        ? new DialogueError(ErrorCode.Aborted, "The embedded model was closed")
        : this.#crash(how));
    this.#exit = error;
    this.#readyReject(
      this.#fatal ?? new DialogueError(
        ErrorCode.LlmUnavailable,
        `Cannot start the embedded model as its process exited (${how})${this.#reason()}`,
      ),
    );
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  #crash(how: string): DialogueError {
    return new DialogueError(
      ErrorCode.LlmTransient,
      `The embedded model process exited (${how})${this.#reason()}: the next request restarts it`,
    );
  }

  /** The last line of the host's stderr that says something, as `: reason`. */
  #reason(): string {
    const last = this.#stderr.findLast((line) => /\w/.test(line));
    return last ? `: ${sanitizeBounded(last, 300, { keepNewlines: false })}` : "";
  }
}

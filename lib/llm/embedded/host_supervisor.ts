/**
 * Keeping one model host running for a backend: started on first use, once
 * (however many calls wait for it), started again after it exited, closed
 * on request. A start that failed is forgotten, so the next call retries.
 *
 * @module
 */
import { log } from "../../base/logger.ts";
import type { HostConfig } from "./host_protocol.ts";
import { HostProcess } from "./host_process.ts";
import { untilAborted } from "./until_aborted.ts";

/** The model host of one backend, across restarts. */
export class HostSupervisor {
  readonly #config: () => Promise<HostConfig>;
  #host: HostProcess | undefined;
  #starting: Promise<HostProcess> | undefined;

  /** `config` is asked for at each start (it checks the model file then). */
  constructor(config: () => Promise<HostConfig>) {
    this.#config = config;
  }

  /** The host's process id while it runs. */
  get pid(): number | undefined {
    return this.#host && !this.#host.gone ? this.#host.pid : undefined;
  }

  /**
   * The running host once its model is loaded, started when there is none
   * (or the last one exited); `loadMs` is the load's when this call waited
   * for it, else 0.
   *
   * @throws {DialogueError} why the host could not start or load the model;
   * `signal.reason` when it aborts first (the start goes on for the next call).
   */
  async ready(signal?: AbortSignal): Promise<{ host: HostProcess; loadMs: number }> {
    if (!this.#starting || this.#host?.gone) {
      this.#host = undefined;
      const starting = this.#start();
      this.#starting = starting;
      // A start that failed is forgotten (a host that failed to load exits,
      // and is `gone`): the next call tries again.
      starting.catch(() => {
        if (this.#starting === starting) this.#starting = undefined;
      });
    }
    const host = await untilAborted(this.#starting, signal);
    const waited = !host.loaded;
    const ready = await untilAborted(host.ready, signal);
    return { host, loadMs: waited ? ready.loadMs : 0 };
  }

  /** Closes the host (waiting for a start in progress first); a later `ready()` starts anew. */
  async close(timeoutMs: number): Promise<void> {
    const starting = this.#starting;
    this.#starting = undefined;
    const host = this.#host ?? await starting?.catch(() => undefined);
    this.#host = undefined;
    await host?.close(timeoutMs);
  }

  async #start(): Promise<HostProcess> {
    const host = new HostProcess(await this.#config());
    this.#host = host;
    host.ready.then((ready) => {
      log("llm").debug(
        "Embedded model loaded in {ms} ms: {context} tokens × {sequences}, {wrapper}",
        {
          ms: Math.round(ready.loadMs),
          context: ready.contextTokens,
          sequences: ready.sequences,
          wrapper: ready.chatWrapper,
        },
      );
    }, () => {});
    return host;
  }
}

/**
 * A throwaway `redis-server` per test: its own free port and temporary
 * directory, no persistence unless asked, and fault controls (SIGKILL and
 * restart on the same port and directory) for crash tests.
 *
 * @module
 */

/** How {@linkcode RedisServer.start} runs redis-server. */
export interface RedisServerOptions {
  /**
   * Extra redis-server arguments, after the defaults so they override them,
   * e.g. `["--appendonly", "yes", "--requirepass", "pw"]`.
   *
   * @default {[]}
   */
  args?: string[];
}

const _READY_TIMEOUT_MS = 5_000;
const _PING_TIMEOUT_MS = 1_000;
const _RETRY_MS = 25;
const _OUTPUT_LIMIT = 8_000;
const _NOT_INSTALLED =
  "redis-server not found on PATH: install it (apt-get install redis-server) to run the tests";

interface _Running {
  child: Deno.ChildProcess;
  exited: Promise<Deno.CommandStatus>;
  /** Resolves once stdout and stderr have been read to their end. */
  drained: Promise<void>;
  status?: Deno.CommandStatus;
}

/**
 * A redis-server child process bound to 127.0.0.1. Call
 * {@linkcode RedisServer.stop} when done: it awaits the exit, closes the
 * pipes and removes the directory, so Deno's leak checks stay green.
 *
 * @example Start, use and stop a server
 * ```ts
 * const redis = await RedisServer.start();
 * console.log(redis.url); // redis://127.0.0.1:PORT
 * await redis.stop();
 * ```
 */
export class RedisServer {
  /** TCP port on 127.0.0.1. */
  readonly port: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** Working directory (AOF and RDB files live here). */
  readonly dir: string;
  #args: string[];
  #running: _Running | undefined;
  #output = "";

  private constructor(port: number, dir: string, args: string[]) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.dir = dir;
    this.#args = args;
  }

  /**
   * Starts redis-server on a free port in a new temporary directory and waits
   * until it answers PING.
   *
   * @throws {Error} When redis-server is not on PATH, exits early, or does
   * not answer within about 5 s; the message carries its output.
   */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const port = _freePort();
    const dir = await Deno.makeTempDir({ prefix: "dialogue_redis_" });
    const server = new RedisServer(port, dir, options.args ?? []);
    try {
      await server.#launch();
    } catch (error) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw error;
    }
    return server;
  }

  /** Stops the server with SIGTERM, waits for it to exit and removes {@linkcode dir}. */
  async stop(): Promise<void> {
    await this.#end("SIGTERM");
    await Deno.remove(this.dir, { recursive: true }).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  /** Kills the server with SIGKILL (a crash) and waits for it; keeps {@linkcode dir}. */
  async kill(): Promise<void> {
    await this.#end("SIGKILL");
  }

  /**
   * Starts the server again on the same port and directory with the same
   * arguments (so an AOF written before a {@linkcode kill} is replayed).
   * A server still running is stopped with SIGTERM first.
   *
   * @throws {Error} Like {@linkcode RedisServer.start}.
   */
  async restart(): Promise<void> {
    await this.#end("SIGTERM");
    await this.#launch();
  }

  async #launch(): Promise<void> {
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--daemonize",
      "no",
      ...this.#args,
    ];
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("redis-server", {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(_NOT_INSTALLED, { cause: error });
      }
      throw error;
    }
    this.#output = "";
    const running: _Running = {
      child,
      exited: child.status,
      drained: Promise.all([
        this.#collect(child.stdout),
        this.#collect(child.stderr),
      ]).then(() => {}),
    };
    running.exited.then((status) => running.status = status);
    this.#running = running;
    const deadline = Date.now() + _READY_TIMEOUT_MS;
    while (!(await _answersPing(this.port))) {
      if (running.status !== undefined || Date.now() > deadline) {
        const reason = running.status === undefined
          ? `it did not answer PING within ${_READY_TIMEOUT_MS} ms`
          : `it exited with code ${running.status.code}`;
        await this.#end("SIGKILL");
        throw new Error(
          `Cannot start redis-server on port ${this.port} as ${reason}: output was\n${this.#output}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, _RETRY_MS));
    }
  }

  async #end(signal: Deno.Signal): Promise<void> {
    const running = this.#running;
    if (running === undefined) return;
    this.#running = undefined;
    if (running.status === undefined) {
      try {
        running.child.kill(signal);
      } catch {
        // it exited between the check and the kill
      }
    }
    await running.exited;
    await running.drained;
  }

  /** Reads a pipe to its end, keeping the last few kilobytes for error messages. */
  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.#output = (this.#output + decoder.decode(chunk, { stream: true }))
        .slice(-_OUTPUT_LIMIT);
    }
  }
}

function _freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/**
 * Sends a RESP PING. A NOAUTH error counts as an answer (the server is up
 * and wants a password); LOADING does not (it is still replaying the AOF).
 */
async function _answersPing(port: number): Promise<boolean> {
  let conn: Deno.TcpConn | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const open = conn;
    timer = setTimeout(() => open.close(), _PING_TIMEOUT_MS);
    await conn.write(new TextEncoder().encode("*1\r\n$4\r\nPING\r\n"));
    const buffer = new Uint8Array(128);
    const read = await conn.read(buffer);
    const reply = new TextDecoder().decode(buffer.subarray(0, read ?? 0));
    return reply.startsWith("+PONG") || reply.startsWith("-NOAUTH");
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // already closed by the timeout
    }
  }
}

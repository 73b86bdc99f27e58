/**
 * Small, dependency-free looks at a Redis on a TCP port: whether something
 * accepts connections, which redis-server process answers (its pid, from
 * `INFO server`), and asking it to shut down. The local store uses them to
 * tell its own server from whatever else may hold a port.
 *
 * @module
 */

/** Whether something accepts TCP connections at host:port (within `timeoutMs`). */
export async function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  try {
    const conn = await _connect(host, port, timeoutMs);
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * The pid of the redis-server answering on 127.0.0.1:`port`, or `undefined`
 * when nothing does or what answers is not Redis.
 */
export async function redisPid(port: number, timeoutMs = 1000): Promise<number | undefined> {
  const reply = await _exchange(port, "INFO server\r\n", timeoutMs).catch(() => "");
  const pid = /\r\nprocess_id:(\d+)\r\n/.exec(reply)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

/**
 * Sends SHUTDOWN to the Redis on 127.0.0.1:`port` (it writes its AOF and
 * exits; the connection closes without a reply) and waits, up to
 * `timeoutMs`, until it no longer answers.
 *
 * @returns whether it stopped.
 */
export async function shutdownRedis(port: number, timeoutMs = 10_000): Promise<boolean> {
  await _exchange(port, "SHUTDOWN\r\n", timeoutMs).catch(() => "");
  const giveUp = Date.now() + timeoutMs;
  while (await isListening("127.0.0.1", port, 200)) {
    if (Date.now() > giveUp) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

async function _connect(host: string, port: number, timeoutMs: number): Promise<Deno.Conn> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connecting = Deno.connect({ hostname: host, port });
  try {
    return await Promise.race([
      connecting,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
      }),
    ]);
  } catch (error) {
    connecting.then((conn) => conn.close(), () => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Writes one inline command, reads until a whole reply (or the close) arrives. */
async function _exchange(port: number, command: string, timeoutMs: number): Promise<string> {
  const conn = await _connect("127.0.0.1", port, timeoutMs);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  let text = "";
  try {
    await conn.write(new TextEncoder().encode(command));
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16_384);
    while (!_complete(text)) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    return text;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer or the server.
    }
  }
}

/** A simple-string, error or bulk-string reply read to its end. */
function _complete(text: string): boolean {
  if (text.startsWith("+") || text.startsWith("-")) return text.includes("\r\n");
  const head = /^\$(-?\d+)\r\n/.exec(text);
  if (!head) return false;
  const length = Number(head[1]);
  return length < 0 || new TextEncoder().encode(text).length >= head[0].length + length + 2;
}

/**
 * A throwaway local Redis Cluster for tests and the bench: three (or more)
 * masters, no replicas (two cores cannot afford six servers next to the
 * system under test; see README "Redis Cluster"), each a
 * {@linkcode RedisServer} with `--cluster-enabled yes`, AOF on, in its own
 * temporary folder, joined with `redis-cli --cluster create … --cluster-yes`.
 * Each node's cluster bus gets a free port of its own (`--cluster-port`), so
 * a data port above 55535 (whose default bus port, port + 10000, does not
 * exist) still works.
 *
 * @module
 */
import { RedisServer } from "./redis_server.ts";

/** How {@linkcode RedisCluster.start} builds the cluster. */
export interface RedisClusterOptions {
  /** Number of masters (Redis needs at least 3). @default 3 */
  masters?: number;
  /** Extra redis-server arguments for every node (e.g. `--requirepass`). @default {[]} */
  args?: string[];
  /** Longest wait for `cluster_state:ok` on every node, in ms. @default 20000 */
  readyTimeoutMs?: number;
}

/** What `CLUSTER INFO` and `DBSIZE` say of one master. */
export interface ClusterNodeKeys {
  /** `127.0.0.1:PORT`. */
  node: string;
  /** Keys on the node (`DBSIZE`). */
  keys: number;
}

/**
 * A running local cluster. {@linkcode stop} stops every node and removes
 * their folders.
 *
 * @example Start a cluster, point REDIS_CLUSTER_NODES at it, stop it
 * ```ts ignore
 * const cluster = await RedisCluster.start();
 * const env = { REDIS_CLUSTER_NODES: cluster.nodes.join(",") };
 * await cluster.stop();
 * ```
 */
export class RedisCluster {
  /** The masters, in the order they were created. */
  readonly servers: readonly RedisServer[];
  readonly #readyTimeoutMs: number;
  /** `-a PASSWORD` for redis-cli when the nodes want one. */
  readonly #auth: string[];

  private constructor(servers: RedisServer[], readyTimeoutMs: number, auth: string[]) {
    this.servers = servers;
    this.#readyTimeoutMs = readyTimeoutMs;
    this.#auth = auth;
  }

  /** `127.0.0.1:PORT` of every master, as `redis.cluster_nodes` takes them. */
  get nodes(): string[] {
    return this.servers.map((s) => `127.0.0.1:${s.port}`);
  }

  /**
   * Starts the masters, joins them and waits until every node says
   * `cluster_state:ok`.
   *
   * @throws {Error} When a node does not start, `redis-cli --cluster create`
   * fails (its output is in the message), or the cluster is not ok in time.
   */
  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const count = options.masters ?? 3;
    if (count < 3) {
      throw new RangeError(`Cannot build a cluster of ${count} masters: use 3 or more`);
    }
    const servers: RedisServer[] = [];
    const auth = _auth(options.args ?? []);
    const cluster = new RedisCluster(servers, options.readyTimeoutMs ?? 20_000, auth);
    try {
      for (let i = 0; i < count; i++) {
        servers.push(
          await RedisServer.start({
            args: [
              "--cluster-enabled",
              "yes",
              "--cluster-config-file",
              "nodes.conf",
              "--cluster-port",
              String(_freePort()),
              "--cluster-node-timeout",
              "2000",
              "--appendonly",
              "yes",
              ...(options.args ?? []),
            ],
          }),
        );
      }
      await _redisCli([...auth, "--cluster", "create", ...cluster.nodes, "--cluster-yes"]);
      await cluster.waitOk();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** Waits (polling `CLUSTER INFO` on every node) until the cluster state is ok everywhere. */
  async waitOk(): Promise<void> {
    const deadline = Date.now() + this.#readyTimeoutMs;
    let last = "";
    while (true) {
      const states = await Promise.all(
        this.servers.map((s) =>
          _redisCli([...this.#auth, "-p", String(s.port), "cluster", "info"]).catch(String)
        ),
      );
      if (states.every((info) => info.includes("cluster_state:ok"))) return;
      last = states.join("\n");
      if (Date.now() > deadline) {
        throw new Error(
          `Cannot use the local cluster as cluster_state is not ok on every node after ${this.#readyTimeoutMs} ms: ${last}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Keys on each master (`DBSIZE`). */
  async keysPerNode(): Promise<ClusterNodeKeys[]> {
    return await Promise.all(this.servers.map(async (s) => ({
      node: `127.0.0.1:${s.port}`,
      keys: Number((await _redisCli([...this.#auth, "-p", String(s.port), "dbsize"])).trim()),
    })));
  }

  /**
   * Kills master `index` (SIGKILL, a crash: what the AOF holds is all that
   * survives), starts it again on the same port and folder, and waits until
   * the cluster is ok again.
   */
  async restartMaster(index: number): Promise<void> {
    const server = this.servers[index];
    if (!server) {
      throw new RangeError(`Cannot restart master ${index}: there are ${this.servers.length}`);
    }
    await server.kill();
    await server.restart();
    await this.waitOk();
  }

  /** Stops every node and removes their folders. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }
}

function _auth(args: string[]): string[] {
  const at = args.indexOf("--requirepass");
  return at >= 0 && args[at + 1] ? ["-a", args[at + 1]!, "--no-auth-warning"] : [];
}

const _CLI_TIMEOUT_MS = 30_000;

async function _redisCli(args: string[]): Promise<string> {
  // `--cluster create` waits for the nodes to join with no limit of its own.
  const out = await new Deno.Command("redis-cli", {
    args,
    stdin: "null",
    signal: AbortSignal.timeout(_CLI_TIMEOUT_MS),
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success || /\[ERR\]|^ERR /m.test(text)) {
    throw new Error(`Cannot run redis-cli ${args.join(" ")} as it failed: ${text.slice(-2000)}`);
  }
  return text;
}

function _freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/**
 * Opening Redis connections: one place for URL parsing, TLS, retry strategy
 * and the error a user sees when Redis is not there. With `redis.cluster_nodes`
 * set, every connection is an ioredis `Cluster` (blocking ones too). It has
 * the same command methods, so it is handed out under the `Redis` type and
 * callers do not change; the three places where the two differ are handled
 * here: `pipeline()` splits by node ({@linkcode splitClusterPipelines}),
 * {@linkcode duplicateRedis} replaces `duplicate()`, and the ready check.
 *
 * @module
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import { splitClusterPipelines } from "./cluster_pipeline.ts";
import type { Config } from "../config/config.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { redactUrl } from "../config/redaction.ts";
import { readUserFileSync } from "../base/user_file.ts";

/** How a connection will be used. */
export interface RedisConnectOptions {
  /** Client name shown by `CLIENT LIST`, e.g. `manager` or `agent-1`. */
  name: string;
  /**
   * A connection for blocking reads (`XREADGROUP BLOCK`): commands wait for
   * reconnection instead of failing after a few retries.
   * @default false
   */
  blocking?: boolean;
}

/** Where a Redis config points, with any password hidden. */
export function describeRedis(redis: Config["redis"]): string {
  if (redis.cluster_nodes) return `the cluster at ${redis.cluster_nodes.join(",")}`;
  return redis.url ? redactUrl(redis.url) : `${redis.host}:${redis.port}/${redis.db}`;
}

/**
 * Opens a connection and waits until it is ready.
 *
 * @throws {DialogueError} `redis_unavailable` saying where and what to do.
 */
export async function connectRedis(
  redis: Config["redis"],
  options: RedisConnectOptions,
): Promise<Redis> {
  const client = createRedis(redis, options);
  try {
    await _ready(client, Math.min(redis.max_unavailable_seconds, 10) * 1000);
  } catch (error) {
    client.disconnect();
    throw redisUnavailable(redis, error);
  }
  return client;
}

/** Whether `client` is a Redis Cluster connection. */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * A new connection like `client` (same server or cluster, same options) under
 * another client name, e.g. for a subscriber.
 */
export function duplicateRedis(client: Redis, name: string): Redis {
  const connectionName = `dialogue-${name}`;
  const any = client as Redis | Cluster;
  if (!isCluster(any)) return client.duplicate({ connectionName });
  const copy = any.duplicate([], {
    redisOptions: { ...any.options.redisOptions, connectionName },
  });
  splitClusterPipelines(copy);
  return copy as unknown as Redis;
}

/**
 * Builds a client without waiting for it (it connects lazily): a `Cluster`
 * when `redis.cluster_nodes` is set (see the module doc), else a `Redis`.
 */
export function createRedis(
  redis: Config["redis"],
  options: RedisConnectOptions,
): Redis {
  const giveUpAt = { value: 0 };
  const opts: RedisOptions = {
    connectionName: `dialogue-${options.name}`,
    lazyConnect: true,
    enableAutoPipelining: false,
    // connectRedis PINGs itself; the ready check sends INFO, which a tight ACL may refuse.
    enableReadyCheck: false,
    maxRetriesPerRequest: options.blocking ? null : 20,
    // Back off 100 ms, 200 ms, … up to 2 s; stop once Redis has been away
    // for longer than the configured limit so processes can exit cleanly.
    retryStrategy: (times) => {
      if (times === 1) {
        giveUpAt.value = Date.now() + redis.max_unavailable_seconds * 1000;
      }
      if (Date.now() > giveUpAt.value) return null;
      return Math.min(100 * 2 ** (times - 1), 2000);
    },
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
  };
  if (redis.username) opts.username = redis.username;
  if (redis.password) opts.password = redis.password;
  if (redis.cluster_nodes) return _createCluster(redis, opts, options);
  if (redis.url) {
    const url = redis.url;
    if (url.startsWith("rediss://")) {
      opts.tls = redis.ca_file
        ? { ca: readUserFileSync(redis.ca_file, { what: "CA file", source: "redis.ca_file" }) }
        : {};
    }
    return new Redis(url, opts);
  }
  return new Redis({
    ...opts,
    host: redis.host,
    port: redis.port,
    db: redis.db,
  });
}

function _createCluster(
  redis: Config["redis"],
  opts: RedisOptions,
  options: RedisConnectOptions,
): Redis {
  if (redis.db !== 0) {
    throw new DialogueError(
      ErrorCode.Usage,
      `Cannot use redis.db ${redis.db} on a Redis Cluster as a cluster has only database 0: drop redis.db or set it to 0`,
    );
  }
  const nodes = (redis.cluster_nodes ?? []).map((node) => {
    const at = node.lastIndexOf(":");
    return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
  });
  const { retryStrategy, lazyConnect: _lazy, ...nodeOptions } = opts;
  const tls = redis.tls || redis.url?.startsWith("rediss://");
  if (tls) {
    nodeOptions.tls = redis.ca_file
      ? { ca: readUserFileSync(redis.ca_file, { what: "CA file", source: "redis.ca_file" }) }
      : {};
  }
  const clusterOptions: ClusterOptions = {
    lazyConnect: true,
    enableAutoPipelining: false,
    // The cluster's ready check is CLUSTER INFO (cluster_state:ok), which a tight ACL may refuse.
    enableReadyCheck: false,
    scaleReads: "master",
    // A master that restarts or fails over answers CLUSTERDOWN / TRYAGAIN / MOVED for a while:
    // wait and retry (bounded by the node retries) rather than failing the command.
    retryDelayOnClusterDown: 200,
    retryDelayOnFailover: 200,
    retryDelayOnTryAgain: 200,
    retryDelayOnMoved: 50,
    maxRedirections: options.blocking ? 1000 : 64,
    clusterRetryStrategy: (times) => retryStrategy?.(times) ?? null,
    redisOptions: nodeOptions,
  };
  const cluster = new Cluster(nodes, clusterOptions);
  splitClusterPipelines(cluster);
  return cluster as unknown as Redis;
}

/** The error a user sees when Redis cannot be used. */
export function redisUnavailable(
  redis: Config["redis"],
  cause: unknown,
): DialogueError {
  const reason = String((cause as Error)?.message ?? cause).replace(/\s+/g, " ").replace(
    /\/\/[^@\s]*@/g,
    "//***@",
  );
  const hint = /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(reason)
    ? "check the user and password in REDIS_URL / redis.username / redis.password"
    : /certificate|self[- ]signed|UnknownIssuer|SSL|TLS|handshake/i.test(reason)
    ? "check redis.ca_file (the CA that signed the server's certificate) and the host in the URL"
    : redis.cluster_nodes
    ? "start the cluster's nodes, or set REDIS_CLUSTER_NODES / redis.cluster_nodes to reachable ones"
    : "start redis-server, or set REDIS_URL / --redis-url to a reachable server";
  return new DialogueError(
    ErrorCode.RedisUnavailable,
    `Cannot use Redis at ${describeRedis(redis)} as ${reason}: ${hint}`,
    { cause },
  );
}

/** Closes clients, blocking ones first (they may be parked in a read). */
export async function closeRedis(
  ...clients: (Redis | undefined)[]
): Promise<void> {
  for (const client of clients) {
    if (!client) continue;
    if (client.status === "end") continue;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        client.quit(),
        new Promise((r) => timer = setTimeout(r, 500)),
      ]);
    } catch {
      // Already closing or closed.
    } finally {
      clearTimeout(timer);
    }
    client.disconnect();
  }
}

async function _ready(client: Redis, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastError: unknown = new Error("the connection timed out");
  let sawError = false;
  const onError = (err: unknown) => {
    lastError = err;
    sawError = true;
  };
  client.on("error", onError);
  try {
    await Promise.race([
      // connect() rejects with a bare "Connection is closed" after the real
      // cause (WRONGPASS, a certificate problem, a refusal) was emitted.
      client.connect().catch((error) => {
        throw sawError ? lastError : error;
      }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(lastError), timeoutMs);
      }),
    ]);
    await client.ping();
  } finally {
    clearTimeout(timer);
    client.off("error", onError);
  }
  // Keep a listener so a later outage is logged by the caller, not thrown
  // as an unhandled 'error' event.
  if (client.listenerCount("error") === 0) client.on("error", () => {});
}

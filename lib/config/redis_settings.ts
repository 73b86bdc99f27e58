/**
 * The `redis` section of the configuration: one Redis (a URL, or host, port
 * and db), or the seed nodes of a Redis Cluster, with credentials and TLS.
 *
 * @module
 */
import { z } from "zod";
import { seconds, secondsForm } from "./seconds_field.ts";

/** Where Redis is and how to reach it. Every field has a default or is optional. */
export const RedisSettings = z.strictObject({
  /** `redis://[user:pass@]host:port/db` or `rediss://` for TLS; wins over host/port/db. */
  url: z.string().min(1).refine(isRedisUrl, {
    message:
      "expected redis://[user:password@]host[:port][/db] or rediss://… (port 1-65535, db 0-15)",
  }).optional(),
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(1).max(65535).default(6379),
  db: z.number().int().min(0).max(15).default(0),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /** CA certificate (PEM) to trust for `rediss://`. */
  ca_file: z.string().min(1).optional(),
  /**
   * Seed nodes of a Redis Cluster (`host:port`); when set, wins over url/host/port
   * (db must stay 0). Username, password and TLS (`tls: true` or a `rediss://` url) apply to
   * every node. Env REDIS_CLUSTER_NODES (comma-separated).
   */
  cluster_nodes: z.array(
    z.string().regex(/^[^\s:]+:\d{1,5}$/, { message: "expected host:port" }),
  ).min(1).max(100).optional(),
  /** Use TLS to the cluster nodes (a single Redis uses TLS with a `rediss://` url). */
  tls: z.boolean().optional(),
  /** Give up when Redis stays unreachable this long. */
  max_unavailable_seconds: seconds(z.number({ error: secondsForm }).positive()).default(30),
});

/** Whether `url` is a Redis URL ioredis reads as meant: scheme, host, numeric port and db. */
export function isRedisUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") return false;
  if (!parsed.hostname) return false;
  // URL() keeps a non-numeric port out of .port: compare with the raw text.
  const authority = url.slice(url.indexOf("//") + 2).split(/[/?#]/)[0]!;
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
  const portText = /:(\d*)$/.exec(hostPort.replace(/^\[.*\]/, ""))?.[1];
  if (portText !== undefined && !(Number(portText) >= 1 && Number(portText) <= 65535)) return false;
  if (/:[^\d\]]+$/.test(hostPort.replace(/^\[.*\]/, ""))) return false;
  const db = parsed.pathname.replace(/^\//, "");
  return db === "" || (/^\d+$/.test(db) && Number(db) <= 15);
}

/**
 * The dashboard server: the hub (the one set of Redis connections), the
 * bundled page, the routes, on `Deno.serve`. Loopback by default; bound
 * elsewhere every request needs the access token, which is in the URL it
 * prints.
 *
 * @module
 */
import type { Config, ConfigLayer } from "../config/config.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { isLoopbackHost, newAccessToken } from "./access_token.ts";
import { LiveHub, type LiveHubOptions } from "./live_hub.ts";
import { SseRegistry } from "./sse_client.ts";
import { buildWebAssets } from "./web_assets.ts";
import { webApp } from "./web_routes.ts";

/** Default address of `deno task web`. */
export const DEFAULT_WEB_HOST = "127.0.0.1";
/** Default port of `deno task web`. */
export const DEFAULT_WEB_PORT = 8787;

/** Options of {@linkcode startWebServer}. */
export interface WebServerOptions {
  /** The configuration (Redis, dispatch, retention). */
  config: Config;
  /** The configuration of a run started from the page: `config` with `layer` over it. */
  configFor(layer: ConfigLayer): Promise<Config>;
  /** Address to listen on. @default {"127.0.0.1"} */
  host?: string;
  /** Port; 0 picks a free one. @default {8787} */
  port?: number;
  /** The access token. @default a new random one */
  token?: string;
  /** Tuning of the hub (batching, polling), for tests and the benchmark. */
  hub?: Partial<Omit<LiveHubOptions, "redisConfig" | "deadAfterMs">>;
}

/** A running dashboard. */
export interface WebServer {
  /** Where to open it; with `?token=` when it is not on loopback. */
  url: string;
  /** The address without the token. */
  origin: string;
  token: string;
  loopback: boolean;
  /** Open event streams (for tests: tabs never open Redis connections of their own). */
  streams(): number;
  /** Stops serving: ends the event streams, then the server, then the Redis connections. */
  close(): Promise<void>;
}

/**
 * Bundles the page, connects to Redis and starts serving.
 *
 * @throws {DialogueError} `usage` when the port is taken or the address not
 * available; `redis_unavailable` when Redis cannot be reached.
 */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const host = options.host ?? DEFAULT_WEB_HOST;
  const port = options.port ?? DEFAULT_WEB_PORT;
  const token = options.token ?? newAccessToken();
  const loopback = isLoopbackHost(host);
  const assets = await buildWebAssets();
  const hub = await LiveHub.open({
    ...options.hub,
    redisConfig: options.config.redis,
    deadAfterMs: options.config.dispatch.dead_after_ms,
  });
  const registry = new SseRegistry();
  const app = webApp({
    hub,
    token,
    loopback,
    assets,
    config: options.config,
    configFor: options.configFor,
    registry,
  });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: host, port, onListen: () => {} }, app.fetch);
  } catch (error) {
    await hub.close();
    const why = error instanceof Deno.errors.AddrInUse
      ? "it is in use: pass --port N (0 picks a free one)"
      : `it is not available (${(error as Error).message})`;
    throw new DialogueError(ErrorCode.Usage, `Cannot listen on ${host}:${port} as ${why}`, {
      cause: error,
    });
  }
  const bound = server.addr.port;
  const shown = host.includes(":") ? `[${host}]` : host;
  const origin = `http://${shown}:${bound}`;
  let closing: Promise<void> | undefined;
  return {
    url: loopback ? `${origin}/` : `${origin}/?token=${token}`,
    origin,
    token,
    loopback,
    streams: () => registry.size,
    close: () =>
      closing ??= (async () => {
        registry.closeAll();
        await server.shutdown();
        await hub.close();
      })(),
  };
}

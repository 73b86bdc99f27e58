/**
 * What the dashboard tests share: a private redis-server and the Ollama
 * double (through the fault rig), the dashboard server in this process,
 * optionally the pools as real processes, and runs created the way the page
 * creates them.
 *
 * @module
 */
import { FAST_CONFIG, FaultRig, type Proc, until } from "../helpers/fault_rig.ts";
import { type Config, type ConfigLayer, parseConfig } from "../../lib/config/config.ts";
import { mergeLayers } from "../../lib/config/config_layer.ts";
import { createConversation } from "../../lib/manager/conversation_setup.ts";
import { Scenario } from "../../lib/model/story.ts";
import { startWebServer, type WebServer, type WebServerOptions } from "../../lib/web/web_server.ts";

/** The story of `tests/fixtures/story.json` (Mara and Ilya). */
export const STORY_SCENARIO: Scenario = Scenario.parse(
  JSON.parse(Deno.readTextFileSync(new URL("../fixtures/story.json", import.meta.url))),
);

/** Options of {@linkcode WebRig.start}. */
export interface WebRigOptions {
  tokenDelayMs?: number;
  wordsPerReply?: number;
  /** Address of the dashboard. @default {"127.0.0.1"} */
  host?: string;
  token?: string;
  hub?: WebServerOptions["hub"];
  /** Redis with an append-only file, so a restart keeps the data. @default false */
  aof?: boolean;
}

/** Redis, the double, the dashboard and (on demand) the pools of one test. */
export class WebRig {
  readonly fault: FaultRig;
  readonly server: WebServer;
  readonly config: Config;
  readonly #layer: ConfigLayer;

  private constructor(fault: FaultRig, server: WebServer, config: Config, layer: ConfigLayer) {
    this.fault = fault;
    this.server = server;
    this.config = config;
    this.#layer = layer;
  }

  /** Starts redis-server, the double and the dashboard (on a free port). */
  static async start(options: WebRigOptions = {}): Promise<WebRig> {
    const fault = await FaultRig.start({
      aof: options.aof ?? false,
      tokenDelayMs: options.tokenDelayMs ?? 5,
      wordsPerReply: options.wordsPerReply ?? 12,
    });
    const layer = mergeLayers(FAST_CONFIG, {
      redis: { url: fault.redisServer.url, max_unavailable_seconds: 5 },
      ollama: { host: fault.double.url, request_timeout_ms: 30_000 },
      agents: { model: "tiny" },
      manager: { model: "tiny" },
      dispatch: { heartbeat_ms: 200, dead_after_ms: 2000 },
    });
    const config = parseConfig(layer);
    try {
      const server = await startWebServer({
        config,
        configFor: (extra) => Promise.resolve(parseConfig(mergeLayers(layer, extra))),
        host: options.host ?? "127.0.0.1",
        port: 0,
        ...(options.token ? { token: options.token } : {}),
        ...(options.hub ? { hub: options.hub } : {}),
      });
      return new WebRig(fault, server, config, layer);
    } catch (error) {
      await fault.close();
      throw error;
    }
  }

  /** The configuration of a run with `extra` over the rig's. */
  runConfig(extra: ConfigLayer = {}): Config {
    return parseConfig(mergeLayers(this.#layer, extra));
  }

  /** Creates a run as the page does (story from the fixture unless `story` is false). */
  async createRun(maxTurns: number, options: { story?: boolean; id?: string } = {}) {
    return await createConversation(
      this.fault.redis,
      this.runConfig({ conversation: { max_turns: maxTurns } }),
      {
        ...(options.story === false ? {} : { scenario: STORY_SCENARIO }),
        ...(options.id ? { id: options.id } : {}),
      },
    );
  }

  /** Starts an agent pool and a manager pool as processes; resolves once both beat. */
  async startPools(): Promise<{ agent: Proc; manager: Proc }> {
    const agent = await this.fault.spawn("agent.ts", [], "agent pool");
    const manager = await this.fault.spawn("manager.ts", ["--pool"], "manager pool");
    await until(
      "both pools to record a heartbeat",
      async () => {
        const beats = Object.keys(await this.fault.redis.hgetall("dialogue:heartbeats"));
        return beats.some((b) => b.includes("manager")) && beats.some((b) => b.includes("agent"))
          ? true
          : undefined;
      },
      30_000,
      () => this.fault.report(),
    );
    return { agent, manager };
  }

  /** Waits until conversation `id` has ended; its metadata. */
  async ended(id: string, timeoutMs = 60_000) {
    return await until(
      `conversation ${id} to end`,
      async () => {
        const meta = await this.fault.store.get(id);
        return meta && ["completed", "failed", "interrupted"].includes(meta.status)
          ? meta
          : undefined;
      },
      timeoutMs,
      () => this.fault.report(),
    );
  }

  /** Stops the dashboard, the processes and the servers. */
  async close(): Promise<void> {
    await this.server.close();
    await this.fault.close();
  }
}

/**
 * The dashboard's HTTP routes (hono): the page and its assets, the two
 * event streams (overview, one conversation), the reports and exports of a
 * run, and the control actions (start, interrupt, resume). Every response
 * carries the security headers; every request passes the access check
 * first; control actions need the token in a header, whatever the address.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Config, ConfigLayer } from "../config/config.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { isValidConversationId } from "../bus/keys.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import { analyzeRun } from "../analysis/run_analysis.ts";
import { formatAnalysisHtml } from "../analysis/report/html_report.ts";
import {
  EXPORT_FORMATS,
  type ExportFormat,
  exportTranscript,
} from "../analysis/transcript_export.ts";
import { htmlFileName } from "../analysis/analyze_command.ts";
import {
  createConversation,
  interruptConversations,
  requestResume,
} from "../manager/conversation_setup.ts";
import { accessDecision, cookieValue, TOKEN_COOKIE, TOKEN_HEADER } from "./access_token.ts";
import { securityHeaders } from "./security_headers.ts";
import { indexHtml, type WebAssets } from "./web_assets.ts";
import type { LiveHub } from "./live_hub.ts";
import type { SseRegistry } from "./sse_client.ts";
import { RunForm, runRequest } from "./run_form.ts";
import { workersMissing } from "./worker_presence.ts";

/** The policy of the HTML report, which styles itself inline and runs no script. */
export const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/** What {@linkcode webApp} serves from. */
export interface WebAppOptions {
  hub: LiveHub;
  token: string;
  /** The server listens on loopback only. */
  loopback: boolean;
  assets: WebAssets;
  /** The server's configuration (partitions and retention for the control actions). */
  config: Config;
  /** The configuration of a new run: the server's with `layer` over it, validated. */
  configFor(layer: ConfigLayer): Promise<Config>;
  registry: SseRegistry;
}

/** The routes. */
export function webApp(o: WebAppOptions): Hono {
  const app = new Hono();
  const store = new ConversationStore(o.hub.redis);

  app.use("*", async (c, next) => {
    const control = c.req.method !== "GET" && c.req.method !== "HEAD";
    const presented = control
      ? c.req.header(TOKEN_HEADER)
      : c.req.header(TOKEN_HEADER) ?? c.req.query("token") ??
        cookieValue(c.req.header("cookie"), TOKEN_COOKIE);
    const verdict = accessDecision({
      loopback: o.loopback,
      hostHeader: c.req.header("host"),
      control,
      presented,
      token: o.token,
    });
    if (verdict !== "ok") {
      const text = verdict === "bad_host"
        ? "This dashboard answers only to a loopback host name (127.0.0.1, localhost, [::1])."
        : control
        ? "A control action needs the access token in the X-Dialogue-Token header."
        : "This dashboard needs its access token: open the URL 'deno task web' printed (…/?token=…).";
      return _plain(c, verdict === "bad_host" ? 403 : 401, text);
    }
    if (!control && c.req.query("token") !== undefined && c.req.path === "/") {
      // Keep the token out of the address bar and history: a cookie carries it from now on.
      const res = c.redirect("/", 303);
      res.headers.append(
        "set-cookie",
        `${TOKEN_COOKIE}=${encodeURIComponent(o.token)}; Path=/; HttpOnly; SameSite=Strict`,
      );
      _secure(res.headers);
      return res;
    }
    await next();
    _secure(c.res.headers);
  });

  app.get("/", (c) => {
    c.header("cache-control", "no-store");
    return c.html(indexHtml(o.token));
  });
  app.get("/assets/app.js", (c) => {
    c.header("content-type", "text/javascript; charset=utf-8");
    c.header("cache-control", "no-cache");
    return c.body(o.assets["app.js"]);
  });
  app.get("/assets/app.css", (c) => {
    c.header("content-type", "text/css; charset=utf-8");
    c.header("cache-control", "no-cache");
    return c.body(o.assets["app.css"]);
  });

  app.get("/api/conversations", (c) => c.json({ cards: o.hub.cards(), now: Date.now() }));
  app.get("/api/workers", (c) => {
    const status = o.hub.status();
    return c.json({ ...status, missing: workersMissing(status) ?? null });
  });

  app.get("/api/events", (c) => {
    const client = o.registry.client();
    client.send(
      "snapshot",
      JSON.stringify({ cards: o.hub.cards(), now: Date.now(), workers: o.hub.status() }),
    );
    const offCards = o.hub.onCards((json) => client.send("cards", json));
    const offPresence = o.hub.onPresence((json) => client.send("workers", json));
    return streamSSE(c, async (stream) => {
      client.attach(stream);
      await client.closed;
      offCards();
      offPresence();
    });
  });

  app.get("/api/conversations/:id/events", async (c) => {
    const id = c.req.param("id");
    if (!isValidConversationId(id)) return _plain(c, 400, "Invalid conversation id.");
    const client = o.registry.client();
    const opened = await o.hub.view(id, (json) => client.send("event", json)).catch((error) => {
      client.close();
      throw error;
    });
    if (!opened) {
      client.close();
      return _plain(c, 404, `No conversation ${id}.`);
    }
    client.send("event", JSON.stringify({ type: "snapshot", snapshot: opened.snapshot }));
    return streamSSE(c, async (stream) => {
      client.attach(stream);
      await client.closed;
      opened.close();
    });
  });

  app.get("/api/conversations/:id/report.html", async (c) => {
    const transcript = await _transcript(store, c.req.param("id"));
    if (!transcript) return _plain(c, 404, "No such conversation.");
    const res = c.html(formatAnalysisHtml(analyzeRun(transcript), transcript));
    res.headers.set(
      "content-disposition",
      `inline; filename="${htmlFileName(transcript.meta.id)}"`,
    );
    _secure(res.headers);
    res.headers.set("content-security-policy", REPORT_CSP);
    return res;
  });
  app.get("/api/conversations/:id/analysis.json", async (c) => {
    const transcript = await _transcript(store, c.req.param("id"));
    if (!transcript) return _plain(c, 404, "No such conversation.");
    return c.json(analyzeRun(transcript));
  });
  app.get("/api/conversations/:id/export/:format", async (c) => {
    const format = c.req.param("format") as ExportFormat;
    if (!EXPORT_FORMATS.includes(format)) {
      return _plain(c, 400, `Unknown export format: choose one of ${EXPORT_FORMATS.join(", ")}.`);
    }
    const transcript = await _transcript(store, c.req.param("id"));
    if (!transcript) return _plain(c, 404, "No such conversation.");
    const lines = exportTranscript(transcript, format);
    c.header("content-type", "application/x-ndjson; charset=utf-8");
    c.header(
      "content-disposition",
      `attachment; filename="dialogue-${transcript.meta.id}.${format}.jsonl"`,
    );
    return c.body(lines.map((line) => `${line}\n`).join(""));
  });

  app.post("/api/runs", async (c) => {
    const form = RunForm.safeParse(await c.req.json().catch(() => undefined));
    if (!form.success) {
      const issue = form.error.issues[0];
      return c.json(
        { error: `Invalid ${issue?.path.join(".") || "form"}: ${issue?.message}` },
        400,
      );
    }
    let request;
    try {
      request = runRequest(form.data);
    } catch (error) {
      if (error instanceof RangeError) return c.json({ error: error.message }, 400);
      throw error;
    }
    // Refused rather than queued: a run nobody serves would sit pending, unexplained.
    const missing = workersMissing(o.hub.presence());
    if (missing) return c.json({ error: missing }, 409);
    try {
      const config = await o.configFor(request.layer);
      const id = await createConversation(o.hub.redis, config, {
        ...(request.scenario ? { scenario: request.scenario } : {}),
      });
      await o.hub.follow(id);
      return c.json({ id }, 201);
    } catch (error) {
      return _userError(c, error);
    }
  });
  app.post("/api/conversations/:id/interrupt", async (c) => {
    const id = c.req.param("id");
    if (!isValidConversationId(id) || !(await store.get(id))) {
      return c.json({ error: "No such conversation." }, 404);
    }
    await interruptConversations(o.hub.redis, o.config, [id]);
    return c.json({ id });
  });
  app.post("/api/conversations/:id/resume", async (c) => {
    const id = c.req.param("id");
    if (!isValidConversationId(id)) return c.json({ error: "Invalid conversation id." }, 400);
    try {
      await requestResume(o.hub.redis, o.config, id);
      await o.hub.follow(id);
      return c.json({ id });
    } catch (error) {
      return _userError(c, error);
    }
  });

  app.notFound((c) => _plain(c, 404, "Not found."));
  return app;
}

async function _transcript(store: ConversationStore, id: string) {
  if (!isValidConversationId(id) || !(await store.get(id))) return undefined;
  return await store.transcript(id);
}

/** A user's mistake (an unknown id, a run that cannot resume, a bad config value) as a 4xx. */
function _userError(c: Context, error: unknown): Response {
  if (error instanceof DialogueError) {
    const status = error.code === ErrorCode.NotFound
      ? 404
      : error.code === ErrorCode.Usage
      ? 409
      : 503;
    return c.json({ error: error.message }, status);
  }
  throw error;
}

function _plain(c: Context, status: 400 | 401 | 403 | 404, text: string): Response {
  const res = c.text(text, status);
  _secure(res.headers);
  return res;
}

function _secure(headers: Headers): void {
  for (const [name, value] of Object.entries(securityHeaders())) {
    if (!headers.has(name)) headers.set(name, value);
  }
}

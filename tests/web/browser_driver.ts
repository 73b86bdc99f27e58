/**
 * Driving the dashboard in a real headless Chromium (Debian's package,
 * through playwright-core). playwright-core needs more than the test suite
 * grants (the home directory, `os` calls, /proc), so tests and the bench run
 * this file as a child process with those few extra permissions and read
 * the JSON it prints; `__IS_WSL_TEST__` makes playwright's bundled is-wsl
 * defer its /proc check (as in the HTML report's browser test).
 *
 * Modes: `e2e URL ID SHOT` (the end-to-end scenario of
 * tests/web/web_browser_test.ts), `latency URL ID` (token → DOM times for
 * bench/web_bench.ts) and `watch URL` (a user watching, for the bench's
 * turn time with the dashboard open).
 *
 * @module
 */
import type { BrowserContext, Page } from "playwright-core";

/**
 * The few browser globals the callbacks run in the page use. This file is
 * type-checked without the DOM library (which would leak into every program
 * that imports it), so each callback reads them through
 * `globalThis as unknown as PageGlobals` (the cast vanishes when
 * playwright sends the function's source to the page).
 */
interface PageGlobals {
  document: {
    querySelector(selector: string): { textContent: string | null } | null;
    body: unknown;
  };
  location: { hash: string };
  getComputedStyle(element: unknown): { color: string };
  MutationObserver: new (callback: (records: PageMutation[]) => void) => {
    observe(target: unknown, options: Record<string, boolean>): void;
  };
  addEventListener(type: string, listener: () => void): void;
}
interface PageMutation {
  type: string;
  target: { textContent: string | null };
  addedNodes: Iterable<{ textContent: string | null }>;
}

/** Debian's Chromium. */
export const CHROMIUM = "/usr/bin/chromium";
/** No sandbox (CI runs as root), no GPU, no background traffic on an offline machine. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ROOT = new URL("../../", import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-net=127.0.0.1",
  `--allow-run=${CHROMIUM}`,
];

/** Whether Chromium is installed (the browser tests skip, saying so, without it). */
export async function hasChromium(): Promise<boolean> {
  try {
    await Deno.stat(CHROMIUM);
    return true;
  } catch {
    return false;
  }
}

/** A running driver: its JSON lines as they come, its end. */
export interface Driver {
  /** Every JSON line printed so far. */
  lines: Record<string, unknown>[];
  /** Resolves on the first line with `type` (rejects when the driver exits first). */
  next(type: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Writes one line to the driver's stdin. */
  send(line: string): Promise<void>;
  /** Waits for the exit; stderr on failure. */
  done(timeoutMs?: number): Promise<{ code: number; stderr: string }>;
  kill(): void;
}

/** Starts this file as a child in `mode` with `args`. */
export function startDriver(mode: string, args: string[]): Driver {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${ROOT}deno.json`,
      ...PERMISSIONS,
      new URL(import.meta.url).pathname,
      mode,
      ...args,
    ],
    env: { __IS_WSL_TEST__: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let ended = false;
  let stderr = "";
  const out = (async () => {
    let buffer = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        lines.push(JSON.parse(line));
        for (const w of waiters.splice(0)) w();
      }
    }
    ended = true;
    for (const w of waiters.splice(0)) w();
  })();
  const err = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
  })();
  const writer = child.stdin.getWriter();
  return {
    lines,
    async next(type, timeoutMs = 60_000) {
      const giveUp = Date.now() + timeoutMs;
      while (true) {
        const found = lines.find((l) => l.type === type);
        if (found) return found;
        if (ended) throw new Error(`The browser driver ended before '${type}':\n${stderr}`);
        if (Date.now() > giveUp) {
          throw new Error(`No '${type}' from the browser driver:\n${stderr}`);
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((r) => {
          waiters.push(r);
          timer = setTimeout(r, 500);
        });
        clearTimeout(timer);
      }
    },
    async send(line) {
      await writer.write(new TextEncoder().encode(`${line}\n`));
    },
    async done(timeoutMs = 60_000) {
      await writer.close().catch(() => {});
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
      }, timeoutMs);
      const status = await child.status;
      clearTimeout(timer);
      await Promise.all([out, err]);
      return { code: status.code, stderr };
    },
    kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    },
  };
}

function _emit(line: Record<string, unknown>): void {
  console.log(JSON.stringify(line));
}

async function _browser<T>(run: (page: Page, context: BrowserContext) => Promise<T>): Promise<T> {
  const { chromium } = await import("playwright-core");
  const profile = await Deno.makeTempDir({ prefix: "dialogue_web_profile_" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  try {
    return await run(context.pages()[0] ?? await context.newPage(), context);
  } finally {
    await context.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/**
 * The end-to-end scenario; prints `{type: "result", …}`. The run it starts
 * from the page uses the fixture story (pasted in the form), so the double
 * need not write a scenario token by token.
 */
async function _e2e(url: string, id: string, shot: string): Promise<void> {
  const story = await Deno.readTextFile(new URL("../fixtures/story.json", import.meta.url));
  await _browser(async (page) => {
    const requested: string[] = [];
    const consoleErrors: string[] = [];
    const dialogs: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(url, { waitUntil: "load" });
    // No pool yet: the page says so and will not start a run.
    await page.waitForSelector('[data-field="workers"]:has-text("no worker up")');
    await page.locator('[data-action="new-run"]').click();
    const noWorkers = await page.locator('[data-field="workers-missing"]').innerText();
    const startDisabled = await page.locator('.new-run button[type="submit"]').isDisabled();
    await page.locator('[data-action="new-run"]').click();
    _emit({ type: "no-workers", noWorkers, startDisabled });
    await page.waitForSelector('[data-field="workers"]:has-text("manager")', { timeout: 30_000 });
    const card = page.locator(`.card[data-id="${id}"]`);
    await card.waitFor({ timeout: 30_000 });
    // The card moves while the run goes on: its last words and turn counter.
    await page.waitForFunction(
      (cid) => {
        const { document } = globalThis as unknown as PageGlobals;
        const el = document.querySelector(`.card[data-id="${cid}"] [data-field="last"]`);
        return (el?.textContent ?? "").length > 0;
      },
      id,
      { timeout: 30_000 },
    );
    const cardStatus = await card.locator('[data-field="status"]').innerText();
    _emit({ type: "overview", cardStatus });
    await card.click();
    await page.waitForSelector(`.conversation[data-id="${id}"]`);
    // Tokens arrive while a turn is generated.
    let sawInflight = false;
    try {
      await page.waitForFunction(
        () => {
          const { document } = globalThis as unknown as PageGlobals;
          return (document.querySelector(".message.inflight .text")?.textContent ?? "").length > 0;
        },
        undefined,
        { timeout: 20_000 },
      );
      sawInflight = true;
    } catch {
      sawInflight = false;
    }
    const first = page.locator('.message:not(.inflight)[data-seq="1"]');
    await first.waitFor({ timeout: 30_000 });
    const hostile = await first.locator(".text").evaluate((el) => ({
      text: el.textContent ?? "",
      html: el.innerHTML,
      children: el.children.length,
    }));
    const figures = await first.locator("[data-figure]").evaluateAll((els) =>
      els.map((el) => el.getAttribute("data-figure"))
    );
    const colour1 = await first.evaluate((el) =>
      (globalThis as unknown as PageGlobals).getComputedStyle(el.querySelector("h3")!).color
    );
    await page.waitForSelector('.message:not(.inflight)[data-seq="2"]', { timeout: 30_000 });
    const colour2 = await page.locator('.message[data-seq="2"] h3').evaluate((el) =>
      (globalThis as unknown as PageGlobals).getComputedStyle(el).color
    );
    const chartCanvases = await page.locator(".charts canvas").count();
    await page.waitForSelector('[data-field="analysis"]', { timeout: 60_000 });
    const links = await page.locator('[data-field="analysis"] a').evaluateAll((els) =>
      els.map((el) => el.getAttribute("href"))
    );
    const report = await page.request.get(new URL(links[0] ?? "/", url).href);
    const reportCsp = report.headers()["content-security-policy"] ?? "";
    const reportOk = report.ok() && (await report.text()).includes("<!DOCTYPE html>");
    const pwned = await page.evaluate(() =>
      (globalThis as Record<string, unknown>).__pwned ?? null
    );
    const images = await page.locator(".messages img").count();
    const scripts = await page.locator("script").count();
    _emit({ type: "conversation", sawInflight });

    // Start a run from the page and follow it to its end.
    await page.goto(url, { waitUntil: "load" });
    await page.locator('[data-action="new-run"]').click();
    await page.locator('.new-run textarea[name="story"]').fill(story);
    await page.locator('.new-run input[name="max_turns"]').fill("2");
    await page.locator('.new-run button[type="submit"]').click();
    await page.waitForFunction(() => location.hash.startsWith("#/c/"), undefined, {
      timeout: 20_000,
    });
    const started = decodeURIComponent(
      await page.evaluate(() => location.hash.slice("#/c/".length)),
    );
    await page.waitForSelector('[data-field="analysis"]', { timeout: 60_000 });
    const startedStatus = await page.locator('.conv-head [data-field="status"]').innerText();
    const startedMessages = await page.locator(".message:not(.inflight)").count();
    await page.screenshot({ path: shot, fullPage: true });
    // Replay at 50×: the messages are typed out again, then all are back.
    await page.locator(".replay select").selectOption("50");
    await page.locator('[data-action="replay"]').click();
    await page.waitForSelector(".message.replaying", { timeout: 10_000 });
    const replaying = await page.locator(".message:not(.replaying)").count();
    await page.waitForSelector('[data-action="replay"]', { timeout: 30_000 });
    const replayed = await page.locator(".message:not(.inflight)").count();
    // Interrupt and resume a long run from its page.
    await page.goto(url, { waitUntil: "load" });
    await page.locator('[data-action="new-run"]').click();
    await page.locator('.new-run textarea[name="story"]').fill(story);
    await page.locator('.new-run input[name="max_turns"]').fill("200");
    await page.locator('.new-run button[type="submit"]').click();
    await page.waitForFunction(
      (before) => location.hash.startsWith("#/c/") && location.hash !== before,
      `#/c/${encodeURIComponent(started)}`,
      { timeout: 20_000 },
    );
    const long = decodeURIComponent(await page.evaluate(() => location.hash.slice("#/c/".length)));
    await page.locator('[data-action="interrupt"]').click();
    await page.waitForSelector('.conv-head [data-field="status"]:has-text("interrupted")', {
      timeout: 20_000,
    });
    await page.locator('[data-action="resume"]').click();
    await page.waitForSelector('.conv-head [data-field="status"]:has-text("running")', {
      timeout: 20_000,
    });
    await page.locator('[data-action="interrupt"]').click();
    await page.waitForSelector('.conv-head [data-field="status"]:has-text("interrupted")', {
      timeout: 20_000,
    });
    await page.goto(url, { waitUntil: "load" });
    await page.locator(".card").nth(1).waitFor();
    await page.screenshot({ path: shot.replace(/\.png$/, "_overview.png"), fullPage: true });
    _emit({
      type: "result",
      noWorkers,
      startDisabled,
      cardStatus,
      sawInflight,
      hostile,
      figures,
      colours: [colour1, colour2],
      chartCanvases,
      links,
      reportOk,
      reportCsp,
      pwned,
      images,
      scripts,
      dialogs,
      consoleErrors,
      offsite: requested.filter((r) =>
        !r.startsWith(new URL(url).origin) && !r.startsWith("data:")
      ),
      started,
      startedStatus,
      startedMessages,
      replaying,
      replayed,
      long,
    });
  });
}

/**
 * Token → DOM latency: opens the overview in one tab and conversation `id`
 * in another, then reports when a text holding a marker `⟦NAME⟧` entered
 * each page (performance.timeOrigin + now: the wall clock the publisher
 * reads too). Prints `{type: "ready"}`, then `{type: "seen", page, marker,
 * at}` the first time each page shows each marker; runs until stdin closes.
 */
async function _latency(url: string, id: string): Promise<void> {
  await _browser(async (conversation, context) => {
    const overview = await context.newPage();
    const seen = new Set<string>();
    for (const [name, page] of [["conversation", conversation], ["overview", overview]] as const) {
      await page.exposeFunction("__seen", (marker: string, at: number) => {
        const key = `${name}:${marker}`;
        if (seen.has(key)) return;
        seen.add(key);
        _emit({ type: "seen", page: name, marker, at });
      });
      await page.addInitScript(() => {
        const report = (globalThis as unknown as { __seen: (m: string, at: number) => void })
          .__seen;
        const scan = (text: string | null, at: number) => {
          for (const m of (text ?? "").matchAll(/⟦(\w+)⟧/g)) report(m[1]!, at);
        };
        const page = globalThis as unknown as PageGlobals;
        page.addEventListener("DOMContentLoaded", () => {
          new page.MutationObserver((records) => {
            const at = performance.timeOrigin + performance.now();
            for (const r of records) {
              if (r.type === "characterData") scan(r.target.textContent, at);
              for (const node of r.addedNodes) scan(node.textContent, at);
            }
          }).observe(page.document.body, {
            childList: true,
            subtree: true,
            characterData: true,
          });
        });
      });
    }
    const base = url.replace(/#.*$/, "");
    await overview.goto(base, { waitUntil: "load" });
    await overview.waitForSelector(`.card[data-id="${id}"]`, { timeout: 30_000 });
    await conversation.goto(`${base}#/c/${encodeURIComponent(id)}`, { waitUntil: "load" });
    await conversation.waitForSelector(`.conversation[data-id="${id}"] .message.inflight .text`, {
      timeout: 30_000,
    });
    _emit({ type: "ready" });
    for await (const _ of Deno.stdin.readable) { /* the bench closes stdin when done */ }
  });
}

/**
 * A user watching: the overview, then the first running conversation it
 * shows, open until stdin closes. Prints `{type: "watching", id}`.
 */
async function _watch(url: string): Promise<void> {
  await _browser(async (page, context) => {
    const overview = await context.newPage();
    await overview.goto(url, { waitUntil: "load" });
    await page.goto(url, { waitUntil: "load" });
    const card = page.locator(".card.status-running").first();
    await card.waitFor({ timeout: 120_000 });
    const id = await card.getAttribute("data-id");
    await card.click();
    _emit({ type: "watching", id });
    for await (const _ of Deno.stdin.readable) { /* the bench closes stdin when done */ }
  });
}

if (import.meta.main) {
  const [mode, ...args] = Deno.args;
  if (mode === "e2e") await _e2e(args[0]!, args[1]!, args[2]!);
  else if (mode === "latency") await _latency(args[0]!, args[1]!);
  else if (mode === "watch") await _watch(args[0]!);
  else throw new Error(`Unknown mode ${mode}: e2e, latency or watch`);
}

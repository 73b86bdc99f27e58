/**
 * The HTML report in a real browser: headless Chromium (Debian's package at
 * /usr/bin/chromium, driven by playwright-core) opens the file offline and
 * every chart must be there with a non-zero size.
 *
 * playwright-core needs more than the test suite grants (it reads the home
 * directory and, to detect WSL, a /proc file Deno only opens under
 * --allow-all), so the test runs this same file as a child process with the
 * few extra permissions, in `--render` mode, and checks what it reports.
 * `__IS_WSL_TEST__` makes playwright's bundled is-wsl defer that check.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { ConversationMeta } from "../../../lib/model/conversation_meta.ts";
import { DialogMessage } from "../../../lib/model/dialog_message.ts";
import { analyzeRun } from "../../../lib/analysis/run_analysis.ts";
import { CHART_IDS, formatAnalysisHtml } from "../../../lib/analysis/report/html_report.ts";

const CHROMIUM = "/usr/bin/chromium";
/** No sandbox (CI runs as root), no GPU, and no background traffic on an offline machine. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ROOT = new URL("../../../", import.meta.url).pathname;
const RENDER_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  `--allow-run=${CHROMIUM}`,
];

/** What the `--render` child saw in the page. */
interface Rendered {
  charts: Record<string, { width: number; height: number } | null>;
  speedPoints: number;
  firstPointWidth: number;
  bars: number;
  turns: number;
  turn2: string;
  images: number;
  dialogs: string[];
  requested: string[];
  screenshotBytes: number;
}

function report(): string {
  const scenario = JSON.parse(
    Deno.readTextFileSync(new URL("../../fixtures/story.json", import.meta.url)),
  );
  const texts = [
    "The lamp is out and the ship is close to the rocks!",
    "What if I rewire the lens motor? <img src=x onerror=alert(1)> Could it work?",
    "Risky. Untested. Do it anyway.",
    "Wonderful, it turns! The light is back!",
    "Good work, Ilya. The ship is turning away.",
    "Thank you, Mara. I was terrified.",
  ];
  const responses = texts.map((content, i) =>
    DialogMessage.parse({
      queue_timestamp: 1000 * (i + 1),
      message_id: `r${i + 1}`,
      role: "assistant",
      content,
      metadata: {
        conversation_id: "browser-run",
        sequence_number: i + 1,
        agent_id: (i % 2) + 1,
        tokens_generated: 30 + 5 * i,
        prompt_tokens: 200 + 60 * i,
        tokens_per_second: 40 + (i % 3) * 4,
        time_to_first_token_ms: 90,
      },
    })
  );
  const meta = ConversationMeta.parse({
    id: "browser-run",
    status: "completed",
    created_at: 0,
    started_at: 0,
    ended_at: 7000,
    turns: 6,
    max_turns: 6,
    duration_seconds: 60,
    stop_reason: "max_turns",
    models: { manager: "m", agent1: "llama3.2", agent2: "qwen2.5" },
    config: {},
    scenario,
  });
  const t = { meta, responses, requests: [] };
  return formatAnalysisHtml(analyzeRun(t), t);
}

Deno.test("the HTML report renders every chart and the transcript in headless Chromium, offline", async () => {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it to run the browser test ` +
        "(Debian/Ubuntu: apt-get install -y chromium; .ci/run installs it in CI)",
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "dialogue_browser_" });
  try {
    const file = `${dir}/report.html`;
    const shot = `${dir}/report.png`;
    await Deno.writeTextFile(file, report());
    const r = await _render(file, shot);
    for (const id of CHART_IDS) {
      const box = r.charts[id];
      assert(box, `chart ${id} is rendered`);
      assert(box.width > 100 && box.height > 50, `chart ${id} has a size: ${JSON.stringify(box)}`);
    }
    assertEquals(r.speedPoints, 6);
    assert(r.firstPointWidth > 0, "data points are drawn");
    assertEquals(r.bars, 6);
    assertEquals(r.turns, 6);
    assert(r.turn2.includes("<img src=x onerror=alert(1)>"), "model text shows as text");
    assertEquals(r.images, 0);
    assertEquals(r.dialogs, [], "no script ran");
    assert(
      r.requested.every((url) => url.startsWith("file:") || url.startsWith("data:")),
      `only the file itself was loaded: ${r.requested.join(", ")}`,
    );
    assert(r.screenshotBytes > 10_000, "a screenshot with content");
    assertEquals((await Deno.stat(shot)).size, r.screenshotBytes);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs this file in `--render` mode and returns what it saw. */
async function _render(file: string, shot: string): Promise<Rendered> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      `--config=${ROOT}deno.json`,
      ...RENDER_PERMISSIONS,
      new URL(import.meta.url).pathname,
      "--render",
      file,
      shot,
    ],
    env: { __IS_WSL_TEST__: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const output = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 0, `the browser run failed:\n${stderr}`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** `--render FILE SHOT`: opens FILE in Chromium, prints a {@linkcode Rendered} as JSON. */
async function _renderMain(file: string, shot: string): Promise<void> {
  const { chromium } = await import("playwright-core");
  const profile = await Deno.makeTempDir({ prefix: "dialogue_chromium_profile_" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1200, height: 900 },
  });
  try {
    const page = await context.newPage();
    const requested: string[] = [];
    page.on("request", (request) => requested.push(request.url()));
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`file://${file}`, { waitUntil: "load" });
    const charts: Rendered["charts"] = {};
    for (const id of CHART_IDS) {
      const box = await page.locator(`svg#${id}`).boundingBox();
      charts[id] = box && { width: box.width, height: box.height };
    }
    const points = page.locator("#chart-tokens-per-second circle.point");
    await page.screenshot({ path: shot, fullPage: true });
    const rendered: Rendered = {
      charts,
      speedPoints: await points.count(),
      firstPointWidth: (await points.first().boundingBox())?.width ?? 0,
      bars: await page.locator("#chart-turn-lengths rect.bar").count(),
      turns: await page.locator("#transcript article.turn").count(),
      turn2: await page.locator("#turn-2 .text").innerText(),
      images: await page.locator("#transcript img").count(),
      dialogs,
      requested,
      screenshotBytes: (await Deno.stat(shot)).size,
    };
    console.log(JSON.stringify(rendered));
  } finally {
    await context.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

if (Deno.args[0] === "--render") await _renderMain(Deno.args[1] ?? "", Deno.args[2] ?? "");

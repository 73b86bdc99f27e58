/**
 * The dashboard end to end in a real headless Chromium: runs served by real
 * pools against the Ollama double appear live with their figures, a hostile
 * reply (escape sequences, `<script>`, `<img onerror>`) shows as inert
 * text, a run started from the page completes, and screenshots are saved
 * to `tests/artifacts/web_dashboard.png` (the run started from the page)
 * and `web_dashboard_overview.png` (the overview), ignored by git.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { hasChromium, startDriver } from "./browser_driver.ts";
import { WebRig } from "./web_rig.ts";
import { CONTENT_SECURITY_POLICY } from "../../lib/web/security_headers.ts";
import { REPORT_CSP } from "../../lib/web/web_routes.ts";

const HOSTILE = "Hi \x1b[31mred\x1b[0m \x1b]0;pwned\x07<script>globalThis.__pwned = 1</script>" +
  '<img src=x onerror="globalThis.__pwned = 2"> bye';
const SHOT = new URL("../artifacts/web_dashboard.png", import.meta.url).pathname;

Deno.test({
  name:
    "the dashboard in Chromium shows runs live with their figures, hostile text inert, starts a run that completes, replays it, and interrupts and resumes another",
  ignore: !(await hasChromium()),
  async fn() {
    const rig = await WebRig.start({ tokenDelayMs: 40, wordsPerReply: 18 });
    try {
      const id = `web-e2e-${crypto.randomUUID().slice(0, 8)}`;
      const driver = startDriver("e2e", [rig.server.url, id, SHOT]);
      let result: Record<string, unknown>;
      try {
        await driver.next("no-workers", 60_000);
        await rig.startPools();
        // Turn 1 of the run is the first chat request (the story comes from the fixture).
        rig.fault.double.enqueueFault({
          kind: "text",
          content: JSON.stringify({ message: HOSTILE, sentiment: "neutral", references: [] }),
        });
        await rig.createRun(4, { id });
        result = await driver.next("result", 150_000);
      } finally {
        const { code, stderr } = await driver.done();
        assertEquals(code, 0, `the browser driver failed:\n${stderr}\n${rig.fault.report()}`);
      }
      const r = result as {
        noWorkers: string;
        startDisabled: boolean;
        cardStatus: string;
        sawInflight: boolean;
        hostile: { text: string; html: string; children: number };
        figures: string[];
        colours: string[];
        chartCanvases: number;
        links: string[];
        reportOk: boolean;
        reportCsp: string;
        pwned: unknown;
        images: number;
        scripts: number;
        dialogs: string[];
        consoleErrors: string[];
        offsite: string[];
        started: string;
        startedStatus: string;
        startedMessages: number;
        replaying: number;
        replayed: number;
        long: string;
      };
      assertStringIncludes(r.noWorkers, "No worker is up");
      assertStringIncludes(r.noWorkers, "deno task agent");
      assert(r.startDisabled, "Start is off while no pool is up");
      assertStringIncludes(r.cardStatus, "running");
      assert(r.sawInflight, "tokens appeared while the turn was generated");
      // Escapes removed, markup shown as the characters it is made of.
      assertEquals(
        r.hostile.text,
        'Hi red <script>globalThis.__pwned = 1</script><img src=x onerror="globalThis.__pwned = 2"> bye',
      );
      assertEquals(r.hostile.children, 0, `no element was made of it: ${r.hostile.html}`);
      assertEquals([r.pwned, r.images, r.dialogs.length], [null, 0, 0]);
      assertEquals(r.scripts, 1, "only our own script");
      for (
        const figure of [
          "tokens",
          "tok/s",
          "TTFT",
          "generation",
          "bus overhead",
          "done",
          "attempts",
        ]
      ) {
        assert(r.figures.includes(figure), `figure ${figure} shown: ${r.figures.join(", ")}`);
      }
      assert(r.colours[0] !== r.colours[1], `speakers coloured apart: ${r.colours.join(" / ")}`);
      assertEquals(r.chartCanvases, 4, "four live charts");
      assert(r.links.some((l) => l.endsWith("/report.html")), r.links.join(", "));
      assert(r.links.some((l) => l.endsWith("/export/jsonl")), r.links.join(", "));
      assert(r.reportOk, "the HTML report opens");
      assertEquals(r.reportCsp, REPORT_CSP);
      assertEquals(r.offsite, [], "nothing loaded from elsewhere");
      assertEquals(r.consoleErrors, [], "no error in the page (a CSP violation would be one)");
      assertStringIncludes(
        r.startedStatus,
        "completed",
        `${(await rig.fault.store.get(r.started))?.error}\n${rig.fault.report()}`,
      );
      assertEquals(r.startedMessages, 2);
      assert(r.replaying < 2, `the replay starts over: ${r.replaying} messages shown at first`);
      assertEquals(r.replayed, 2, "after the replay every message is back");
      const long = await rig.fault.store.require(r.long);
      assertEquals(long.status, "interrupted", "interrupted, resumed, interrupted from the page");
      assert(long.resumed_at !== undefined, "it was resumed in between");
      const meta = await rig.ended(r.started);
      assertEquals([meta.status, meta.turns], ["completed", 2]);
      assertEquals((await rig.ended(id)).status, "completed");
      assert((await Deno.stat(SHOT)).size > 20_000, "a screenshot with content");
      assert((await Deno.stat(SHOT.replace(/\.png$/, "_overview.png"))).size > 10_000);
      assert(CONTENT_SECURITY_POLICY.includes("script-src 'self'"));
    } finally {
      await rig.close();
    }
  },
});

if (!(await hasChromium())) {
  console.warn(
    "web_browser_test: /usr/bin/chromium is absent, the browser test is skipped " +
      "(apt-get install -y chromium; scripts/preflight.ts installs it in CI)",
  );
}

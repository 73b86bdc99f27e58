/**
 * The page's files, bundled when the server starts with `deno bundle` (its
 * esbuild, from the npm registry like every dependency), so they are served
 * by our server and the page works offline: no CDN, nothing fetched by the
 * browser from anywhere else. The bundle is kept in memory, built once per
 * process.
 *
 * @module
 */

/** The bundled script and stylesheet. */
export interface WebAssets {
  "app.js": string;
  "app.css": string;
}

const _ROOT = new URL("../../", import.meta.url);
const _ENTRY = new URL("./assets/app.ts", import.meta.url);

let _built: Promise<WebAssets> | undefined;

/**
 * Bundles `lib/web/assets/app.ts` (and the CSS it imports) for the browser,
 * minified; the same promise for every caller of one process.
 *
 * @throws {Error} when `deno bundle` fails, with its output.
 */
export function buildWebAssets(): Promise<WebAssets> {
  _built ??= _bundle().catch((error) => {
    _built = undefined;
    throw error;
  });
  return _built;
}

async function _bundle(): Promise<WebAssets> {
  const outdir = await Deno.makeTempDir({ prefix: "dialogue_web_" });
  try {
    const { code, stderr } = await new Deno.Command(_deno(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "--minify",
        "--config",
        new URL("deno.json", _ROOT).pathname,
        "--outdir",
        outdir,
        _ENTRY.pathname,
      ],
      cwd: _ROOT.pathname,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(
        `Cannot bundle the dashboard's page as deno bundle exited with ${code}: ${
          new TextDecoder().decode(stderr).slice(-2000)
        }`,
      );
    }
    return {
      "app.js": await Deno.readTextFile(`${outdir}/app.js`),
      "app.css": await Deno.readTextFile(`${outdir}/app.css`),
    };
  } finally {
    await Deno.remove(outdir, { recursive: true }).catch(() => {});
  }
}

/**
 * This Deno when the process may run it, else `deno` from PATH: the task
 * grants `--allow-run=deno`, which names the one on PATH, and an npm-installed
 * Deno runs from another path than its PATH entry.
 */
function _deno(): string {
  const exec = Deno.execPath();
  return Deno.permissions.querySync({ name: "run", command: exec }).state === "granted"
    ? exec
    : "deno";
}

/**
 * The page's HTML shell. `token` rides in a meta tag so that the page can
 * send it with control actions; only a page of our origin can read it.
 */
export function indexHtml(token: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="dialogue-token" content="${token.replace(/[^A-Za-z0-9_-]/g, "")}">
<title>DialogueLLM</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body>
<div id="app"><p class="boot">Loading the dashboard…</p></div>
</body>
</html>
`;
}

/**
 * Model sources: paths checked for GGUF, and `hf:` references downloaded once
 * into the data folder from a local HTTP double of Hugging Face (HF_ENDPOINT),
 * which redirects to a "CDN" with the file's sha256 in `x-linked-etag`.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../helpers/assert.ts";
import { DialogueError, ErrorCode } from "../../../lib/base/dialogue_error.ts";
import {
  cachedModelPath,
  checkGgufFile,
  DEFAULT_EMBEDDED_MODEL,
  isModelCached,
  parseModelSource,
  resolveModelSource,
} from "../../../lib/llm/embedded/model_source.ts";
import { TINY_MODEL, TINY_MODEL_MISSING } from "./tiny_model.ts";

/** The tiny model's bytes, or GGUF-looking bytes where it is absent (nothing here loads them). */
const BYTES = TINY_MODEL_MISSING
  ? new Uint8Array([...new TextEncoder().encode("GGUF"), ...new Uint8Array(300_000).fill(7)])
  : Deno.readFileSync(TINY_MODEL);
const SHA = createHash("sha256").update(BYTES).digest("hex");
const REF = "hf:test-owner/tiny-repo/stories260K.gguf";

interface Double {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/** Serves `body` like Hugging Face: /resolve/main/ redirects to /cdn/ with the sha256 header. */
function serveHub(
  options: { sha?: string | null; body?: Uint8Array; status?: number } = {},
): Double {
  const requests: string[] = [];
  const body = options.body ?? BYTES;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    requests.push(path);
    if (options.status) return new Response("nope", { status: options.status });
    if (path.includes("/resolve/main/")) {
      const headers = new Headers({ location: `/cdn/${path.split("/").at(-1)}` });
      if (options.sha !== null) headers.set("x-linked-etag", `"${options.sha ?? SHA}"`);
      return new Response(null, { status: 302, headers });
    }
    // Chunked, so progress has several steps.
    const chunk = 64 * 1024;
    const parts = Array.from(
      { length: Math.ceil(body.length / chunk) },
      (_, i) => body.subarray(i * chunk, (i + 1) * chunk),
    );
    return new Response(ReadableStream.from(parts), {
      headers: { "content-length": String(body.length), etag: '"cdn-etag-not-a-sha"' },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "dialogue-models-" });
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

function envOf(home: string, endpoint: string): (name: string) => string | undefined {
  const vars: Record<string, string> = { DIALOGUE_HOME: home, HF_ENDPOINT: endpoint };
  return (name) => vars[name];
}

/** Every file under `dir`, relative. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) {
        out.push(...(await filesUnder(join(dir, entry.name))).map((f) => `${entry.name}/${f}`));
      } else out.push(entry.name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out;
}

const isModelNotFound = (e: unknown) =>
  e instanceof DialogueError && e.code === ErrorCode.ModelNotFound;

Deno.test("resolveModelSource() downloads an hf: model once into <data folder>/models/OWNER/REPO/FILE, reporting progress and checking the server's sha256", async () => {
  await withHome(async (home) => {
    const hub = serveHub();
    const progress: [number, number | undefined][] = [];
    try {
      const path = await resolveModelSource(REF, {
        env: envOf(home, hub.url),
        pull: true,
        onProgress: (bytes, total) => progress.push([bytes, total]),
      });
      assertEquals(path, join(home, "models", "test-owner", "tiny-repo", "stories260K.gguf"));
      assertEquals(path, cachedModelPath(REF, envOf(home, hub.url)));
      assertEquals(createHash("sha256").update(await Deno.readFile(path)).digest("hex"), SHA);
      assert(progress.length > 1, "several progress steps");
      assertEquals(progress.at(-1), [BYTES.length, BYTES.length]);
      assert(progress.every(([b], i) => i === 0 || b > progress[i - 1]![0]), "progress only grows");
      assertEquals(await filesUnder(join(home, "models")), [
        "test-owner/tiny-repo/stories260K.gguf",
      ], "no .part left");
      assertEquals(hub.requests, [
        "/test-owner/tiny-repo/resolve/main/stories260K.gguf",
        "/cdn/stories260K.gguf",
      ]);
    } finally {
      await hub.close();
    }
    // Cached: the second time needs no network (the server is gone).
    assert(isModelCached(REF, envOf(home, hub.url)));
    const again = await resolveModelSource(REF, { env: envOf(home, hub.url), pull: true });
    assertEquals(again, cachedModelPath(REF, envOf(home, hub.url)));
  });
});

Deno.test("resolveModelSource() refuses a download whose sha256 is not the server's, and leaves no file", async () => {
  await withHome(async (home) => {
    const hub = serveHub({ sha: "0".repeat(64) });
    try {
      const error = await assertRejects<DialogueError>(
        () => resolveModelSource(REF, { env: envOf(home, hub.url), pull: true }),
        isModelNotFound,
      );
      assertStringIncludes(
        error.message,
        `its sha256 ${SHA} is not the expected ${"0".repeat(64)}`,
      );
      assertStringIncludes(error.message, "--model-file PATH");
      assert(!error.message.includes("\n"));
      assertEquals(await filesUnder(join(home, "models")), []);
      assert(!isModelCached(REF, envOf(home, hub.url)));
    } finally {
      await hub.close();
    }
  });
});

Deno.test("resolveModelSource() checks a #sha256= suffix when the server names none", async () => {
  await withHome(async (home) => {
    const hub = serveHub({ sha: null });
    try {
      await assertRejects(
        () =>
          resolveModelSource(`${REF}#sha256=${"a".repeat(64)}`, {
            env: envOf(home, hub.url),
            pull: true,
          }),
        isModelNotFound,
      );
      assertEquals(await filesUnder(join(home, "models")), []);
      const path = await resolveModelSource(`${REF}#sha256=${SHA}`, {
        env: envOf(home, hub.url),
        pull: true,
      });
      assertEquals(
        path,
        cachedModelPath(REF, envOf(home, hub.url)),
        "the suffix is not part of the file's name",
      );
    } finally {
      await hub.close();
    }
  });
});

Deno.test("resolveModelSource() says in one line that a model cannot be downloaded offline, naming --model-file", async () => {
  // A port that was just free: the connection is refused, as with no network.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  await withHome(async (home) => {
    const error = await assertRejects<DialogueError>(
      () => resolveModelSource(REF, { env: envOf(home, `http://127.0.0.1:${port}`), pull: true }),
      isModelNotFound,
    );
    assertStringIncludes(error.message, "the server cannot be reached");
    assertStringIncludes(error.message, "--model-file PATH");
    assert(!error.message.includes("\n"), error.message);
    assertEquals(await filesUnder(join(home, "models")), []);
  });
});

Deno.test("resolveModelSource() says a model the hub does not have is a 404, naming --model-file", async () => {
  await withHome(async (home) => {
    const hub = serveHub({ status: 404 });
    try {
      const error = await assertRejects<DialogueError>(
        () => resolveModelSource(REF, { env: envOf(home, hub.url), pull: true }),
        isModelNotFound,
      );
      assertStringIncludes(error.message, "it does not exist there (404)");
      assertStringIncludes(error.message, "--model-file PATH");
    } finally {
      await hub.close();
    }
  });
});

Deno.test("resolveModelSource() refuses what is not GGUF (an error page served as 200) before keeping it", async () => {
  await withHome(async (home) => {
    const hub = serveHub({
      sha: null,
      body: new TextEncoder().encode("<html>rate limited</html>"),
    });
    try {
      const error = await assertRejects<DialogueError>(
        () => resolveModelSource(REF, { env: envOf(home, hub.url), pull: true }),
        isModelNotFound,
      );
      assertStringIncludes(error.message, "not a GGUF file");
      assertEquals(await filesUnder(join(home, "models")), []);
    } finally {
      await hub.close();
    }
  });
});

Deno.test("resolveModelSource() does not download without pull: it names --pull and --model-file", async () => {
  await withHome(async (home) => {
    const hub = serveHub();
    try {
      const error = await assertRejects<DialogueError>(
        () => resolveModelSource(REF, { env: envOf(home, hub.url) }),
        isModelNotFound,
      );
      assertStringIncludes(error.message, "--pull");
      assertStringIncludes(error.message, "--model-file PATH");
      assertEquals(hub.requests, []);
    } finally {
      await hub.close();
    }
  });
});

Deno.test("checkGgufFile() names the path and --model-file for a missing file, a folder and a file that is not GGUF", async () => {
  await withHome(async (home) => {
    const text = join(home, "notes.gguf");
    await Deno.writeTextFile(text, "hello");
    const cases: [string, string][] = [
      [join(home, "absent.gguf"), "it does not exist"],
      [home, "it is not a regular file"],
      [text, 'it is not a GGUF file (it starts with "hell", not "GGUF")'],
    ];
    for (const [path, why] of cases) {
      const error = await assertRejects<DialogueError>(() => checkGgufFile(path), isModelNotFound);
      assertEquals(
        error.message,
        `Cannot use the model file ${path} as ${why}: pass --model-file PATH with a GGUF model`,
      );
    }
    // A path is used as it is, checked.
    await assertRejects(() => resolveModelSource(text), isModelNotFound);
  });
});

Deno.test("parseModelSource() reads hf: references and refuses malformed ones as usage errors", () => {
  const parsed = parseModelSource(DEFAULT_EMBEDDED_MODEL);
  assert(parsed.kind === "hf" && parsed.owner === "Qwen" && parsed.file.endsWith(".gguf"));
  assertEquals(parsed.kind === "hf" && parsed.sha256?.length, 64);
  assertEquals(parseModelSource("hf:o/r/sub/f.gguf"), {
    kind: "hf",
    owner: "o",
    repo: "r",
    file: "sub/f.gguf",
  });
  for (
    const bad of [
      "hf:o/f.gguf",
      "hf:o/r/../f.gguf",
      "hf:o/r/f.bin",
      "hf:o/r/f.gguf#sha256=xyz",
      "hf:/r/f.gguf",
    ]
  ) {
    let thrown: unknown;
    try {
      parseModelSource(bad);
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof DialogueError && thrown.code === ErrorCode.Usage, bad);
  }
  assertEquals(cachedModelPath("/models/m.gguf", () => undefined), "/models/m.gguf");
});

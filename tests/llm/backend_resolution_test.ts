import assert from "node:assert/strict";
import { dirname } from "node:path";
import { parseConfig } from "../../lib/config/config.ts";
import { probeOllama, resolveBackends } from "../../lib/llm/backend_resolution.ts";
import { cachedModelPath, DEFAULT_EMBEDDED_MODEL } from "../../lib/llm/embedded/model_source.ts";
import { OllamaDouble } from "../../lib/testing/ollama_double.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";

const TINY_MODEL = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
const HAVE_TINY = await Deno.stat(TINY_MODEL).then((s) => s.isFile, () => false);

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A fresh data folder and an environment that points at it. */
async function home(): Promise<{ env: (n: string) => string | undefined; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "dialogue_resolution_" });
  return { dir, env: (n) => (n === "DIALOGUE_HOME" ? dir : undefined) };
}

Deno.test("probeOllama() says nothing when Ollama answers and one short line why not otherwise", async () => {
  const double = await OllamaDouble.start();
  try {
    assert.equal(await probeOllama(double.url), undefined);
  } finally {
    await double.close();
  }
  assert.equal(await probeOllama(`http://127.0.0.1:${closedPort()}`), "connection refused");
});

Deno.test("resolveBackends() makes every auto role concrete: Ollama when the double answers", async () => {
  const double = await OllamaDouble.start();
  const h = await home();
  try {
    const config = parseConfig({ ollama: { host: double.url }, embedded: { model: "/x.gguf" } });
    const { config: resolved, choices } = await resolveBackends(config, { env: h.env });
    for (const role of ["manager", "agent1", "agent2"] as const) {
      assert.equal(choices[role].kind, "ollama");
    }
    assert.equal(resolved.manager.backend, "ollama");
    assert.equal(resolved.agents.agent1.backend, "ollama");
    assert.equal(config.manager.backend, undefined, "the input is left as it was");
  } finally {
    await double.close();
    await Deno.remove(h.dir, { recursive: true });
  }
});

Deno.test("resolveBackends() leaves configured roles alone and probes only for auto ones", async () => {
  const h = await home();
  let probes = 0;
  try {
    const config = parseConfig({
      backend: "ollama",
      agents: { agent2: { backend: "openai" } },
      openai: { base_url: "http://127.0.0.1:9/v1" },
    });
    const { choices } = await resolveBackends(config, {
      env: h.env,
      probeOllama: () => (probes++, Promise.resolve(undefined)),
    });
    assert.equal(probes, 0);
    assert.equal(choices.agent1.kind, "ollama");
    assert.equal(choices.agent2.kind, "openai");
  } finally {
    await Deno.remove(h.dir, { recursive: true });
  }
});

Deno.test({
  name:
    "resolveBackends() without Ollama takes the cached default embedded model, found in the data folder",
  ignore: !HAVE_TINY,
  async fn() {
    const h = await home();
    try {
      // The tiny model stands in for the default one at its cache path (a link, not a copy).
      const cached = cachedModelPath(DEFAULT_EMBEDDED_MODEL, h.env);
      await Deno.mkdir(dirname(cached), { recursive: true });
      await Deno.symlink(TINY_MODEL, cached);
      const config = parseConfig({ ollama: { host: `http://127.0.0.1:${closedPort()}` } });
      const { config: resolved, choices } = await resolveBackends(config, { env: h.env });
      assert.equal(choices.agent1.kind, "embedded");
      assert.match(choices.manager.reason, /cached embedded model/);
      assert.equal(resolved.embedded.model, cached);
      assert.equal(resolved.agents.agent2.backend, "embedded");
    } finally {
      await Deno.remove(h.dir, { recursive: true });
    }
  },
});

Deno.test("resolveBackends() with nothing to use fails at once, naming the ways forward; a role that generates nothing is not asked", async () => {
  const h = await home();
  try {
    const config = parseConfig({ ollama: { host: `http://127.0.0.1:${closedPort()}` } });
    await assert.rejects(
      resolveBackends(config, { env: h.env }),
      (e: unknown) =>
        e instanceof DialogueError && e.code === ErrorCode.LlmUnavailable &&
        e.message.includes("--model-file") && e.message.includes("--pull"),
    );
    // An agent pool resolves only its own roles: the manager's auto is left to Ollama.
    const withModel = parseConfig({
      ollama: { host: `http://127.0.0.1:${closedPort()}` },
      agents: { backend: "ollama" },
    });
    const { choices } = await resolveBackends(withModel, {
      env: h.env,
      roles: ["agent1", "agent2"],
    });
    assert.equal(choices.manager.reason, "not used in this run");
  } finally {
    await Deno.remove(h.dir, { recursive: true });
  }
});

Deno.test("resolveBackends() refuses an hf: model that is not downloaded unless --pull, naming both ways", async () => {
  const h = await home();
  try {
    const config = parseConfig({ backend: "embedded", embedded: { model: "hf:o/r/m.gguf" } });
    await assert.rejects(
      resolveBackends(config, { env: h.env }),
      (e: unknown) =>
        e instanceof DialogueError && e.code === ErrorCode.ModelNotFound &&
        e.message.includes("--pull") && e.message.includes("--model-file"),
    );
  } finally {
    await Deno.remove(h.dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { loadConfig, parseConfig } from "../../lib/config/config.ts";
import {
  concreteBackend,
  embeddedModelName,
  roleBackend,
  roleModel,
} from "../../lib/config/backend_config.ts";
import { redactConfig } from "../../lib/config/redaction.ts";
import { configLayerFromFlags } from "../../lib/cli/cli.ts";
import { DialogueError } from "../../lib/base/dialogue_error.ts";

const noEnv = () => undefined;

Deno.test("every role uses auto by default, which a process that skipped resolution reads as Ollama", () => {
  const config = parseConfig({});
  assert.equal(config.backend, "auto");
  for (const role of ["manager", "agent1", "agent2"] as const) {
    assert.equal(roleBackend(config, role), "auto");
    assert.equal(concreteBackend(config, role), "ollama");
  }
});

Deno.test("the most specific backend setting wins: agent's own, then agents.backend, then backend", () => {
  const config = parseConfig({
    backend: "openai",
    agents: { backend: "embedded", agent2: { backend: "ollama" } },
  });
  assert.equal(roleBackend(config, "manager"), "openai");
  assert.equal(roleBackend(config, "agent1"), "embedded");
  assert.equal(roleBackend(config, "agent2"), "ollama");
});

Deno.test("--backend sets every role and --agent2-backend still wins for its agent (a mixed run)", async () => {
  const flags = configLayerFromFlags({
    backend: "embedded",
    "agent2-backend": "ollama",
    "model-file": "/models/stories260K.gguf",
  });
  const config = await loadConfig({ flags, env: noEnv });
  assert.equal(roleBackend(config, "manager"), "embedded");
  assert.equal(roleBackend(config, "agent1"), "embedded");
  assert.equal(roleBackend(config, "agent2"), "ollama");
  // The embedded role records and routes by the model file's name.
  assert.equal(roleModel(config, "agent1"), "stories260K");
  assert.equal(roleModel(config, "agent2"), "llama3.2");
});

Deno.test("DIALOGUE_BACKEND, OPENAI_BASE_URL, OPENAI_API_KEY and DIALOGUE_MODEL_FILE set their fields", async () => {
  const env: Record<string, string> = {
    DIALOGUE_BACKEND: "openai",
    OPENAI_BASE_URL: "http://127.0.0.1:8000/v1",
    OPENAI_API_KEY: "sk-secret-123",
    DIALOGUE_MODEL_FILE: "hf:owner/repo/tiny.gguf",
  };
  const config = await loadConfig({ env: (n) => env[n] });
  assert.equal(roleBackend(config, "agent1"), "openai");
  assert.equal(config.openai.base_url, "http://127.0.0.1:8000/v1");
  assert.equal(config.openai.api_key, "sk-secret-123");
  assert.equal(config.embedded.model, "hf:owner/repo/tiny.gguf");
  // The key never reaches a stored or logged config.
  assert.ok(!JSON.stringify(redactConfig(config)).includes("sk-secret-123"));
});

Deno.test("a backend name that does not exist is refused naming the field and the choices", async () => {
  await assert.rejects(
    loadConfig({ flags: configLayerFromFlags({ "agent1-backend": "llamafile" }), env: noEnv }),
    (e: unknown) =>
      e instanceof DialogueError && e.message.includes("agents.agent1.backend") &&
      e.message.includes('"embedded"'),
  );
  await assert.rejects(
    loadConfig({ flags: configLayerFromFlags({ "openai-base-url": "ftp://x" }), env: noEnv }),
    (e: unknown) => e instanceof DialogueError && e.message.includes("openai.base_url"),
  );
});

Deno.test("embedded threads are always explicit: half the cores, at least one", () => {
  const config = parseConfig({});
  assert.ok(Number.isInteger(config.embedded.threads) && config.embedded.threads >= 1);
  assert.ok(config.embedded.threads <= Math.max(1, navigator.hardwareConcurrency));
});

Deno.test("embeddedModelName() is the file's name without .gguf, for paths and hf: references", () => {
  assert.equal(embeddedModelName("../shared/models/stories260K.gguf"), "stories260K");
  assert.equal(embeddedModelName("hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/q4.gguf#sha256=ab"), "q4");
  assert.equal(embeddedModelName("model.bin"), "model.bin");
});

import assert from "node:assert/strict";
import { type BackendFindings, chooseBackend } from "../../lib/llm/backend_choice.ts";

const NOTHING: BackendFindings = {
  ollamaAnswers: false,
  ollamaHost: "http://127.0.0.1:11434",
  ollamaProblem: "connection refused",
  defaultModelRef: "hf:Qwen/x/y.gguf",
};

Deno.test("auto: Ollama when it answers, even with an embedded model configured", () => {
  const d = chooseBackend({ ...NOTHING, ollamaAnswers: true, embeddedModel: "m.gguf" });
  assert.ok(d.ok);
  assert.equal(d.kind, "ollama");
  assert.match(d.reason, /answered at http:\/\/127\.0\.0\.1:11434/);
});

Deno.test("auto: an OpenAI-compatible server that is configured wins (it was asked for)", () => {
  const d = chooseBackend({ ...NOTHING, ollamaAnswers: true, openaiBaseUrl: "http://h:8000/v1" });
  assert.ok(d.ok);
  assert.equal(d.kind, "openai");
});

Deno.test("auto: without Ollama, the configured embedded model, saying why", () => {
  const d = chooseBackend({ ...NOTHING, embeddedModel: "m.gguf" });
  assert.ok(d.ok);
  assert.equal(d.kind, "embedded");
  assert.match(d.reason, /Ollama did not answer .*connection refused.*m\.gguf/);
  assert.equal(d.modelFile, undefined);
});

Deno.test("auto: without Ollama or a configured model, the cached default model", () => {
  const d = chooseBackend({ ...NOTHING, cachedDefaultModel: "/data/models/y.gguf" });
  assert.ok(d.ok);
  assert.equal(d.kind, "embedded");
  assert.equal(d.modelFile, "/data/models/y.gguf");
});

Deno.test("auto: with nothing at all, one line listing every way forward", () => {
  const d = chooseBackend(NOTHING);
  assert.ok(!d.ok);
  for (const way of ["ollama serve", "--model-file", "--openai-base-url", "--backend embedded"]) {
    assert.ok(d.problem.includes(way), `${way} in: ${d.problem}`);
  }
  assert.ok(d.problem.includes("hf:Qwen/x/y.gguf"));
  assert.ok(!d.problem.includes("\n"));
});

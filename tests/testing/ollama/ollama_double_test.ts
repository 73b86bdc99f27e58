import assert from "node:assert/strict";
import { FAKE_OLLAMA_HELP, parseFakeOllamaFlags } from "../../../lib/testing/ollama/fake_ollama.ts";
import { MODEL, rejection, streamChat, withDouble } from "./double_helpers.ts";

Deno.test("OllamaDouble rejects a missing model and malformed JSON with 400 and Go-like errors", async () => {
  await withDouble({}, async (double) => {
    const post = async (body: string) => {
      const response = await fetch(`${double.url}/api/chat`, { method: "POST", body });
      return { status: response.status, error: (await response.json()).error };
    };
    assert.deepEqual(await post(JSON.stringify({ messages: [] })), {
      status: 400,
      error: "model is required",
    });
    const broken = await post("{not json");
    assert.equal(broken.status, 400);
    assert.match(broken.error, /^invalid character 'n'/);
    const wrongType = await post(JSON.stringify({ model: MODEL, messages: "hi" }));
    assert.equal(wrongType.status, 400);
    assert.match(
      wrongType.error,
      /^json: cannot unmarshal string into Go struct field ChatRequest\.messages/,
    );
    assert.deepEqual(double.requests.map((r) => r.body === null), [false, true, false]);
  });
});

Deno.test("OllamaDouble lists its models as tags with Ollama's names and digests", async () => {
  await withDouble({ models: ["a", "b:7b"] }, async (_double, client) => {
    const tags = await client.list();
    assert.deepEqual(tags.models.map((m) => m.name), ["a:latest", "b:7b"]);
    assert.match(tags.models[0]!.digest, /^[0-9a-f]{64}$/);
  });
});

Deno.test("OllamaDouble answers 404 on the paths the product never calls", async () => {
  await withDouble({}, async (double) => {
    for (const [method, path] of [["GET", "/"], ["POST", "/api/generate"], ["POST", "/api/show"]]) {
      const response = await fetch(`${double.url}${path}`, {
        method,
        ...(method === "POST" ? { body: JSON.stringify({ model: MODEL }) } : {}),
      });
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(await response.text(), "404 page not found");
    }
  });
});

Deno.test("OllamaDouble pull streams progress, then success, and adds the model", async () => {
  await withDouble({}, async (_double, client) => {
    const progress = await client.pull({ model: "qwen3:0.6b", stream: true });
    const statuses: string[] = [];
    let sawBytes = false;
    for await (const step of progress) {
      statuses.push(step.status);
      if (step.total > 0 && step.completed === step.total) sawBytes = true;
    }
    assert.equal(statuses[0], "pulling manifest");
    assert.equal(statuses.at(-1), "success");
    assert.ok(sawBytes);
    const names = (await client.list()).models.map((m) => m.name);
    assert.ok(names.includes("qwen3:0.6b"));
    assert.equal((await streamChat(client, { model: "qwen3:0.6b" })).last.done, true);
  });
});

Deno.test("OllamaDouble pull of a nonexistent model fails inside the stream and adds nothing", async () => {
  await withDouble({}, async (_double, client) => {
    const progress = await client.pull({ model: "nonexistent-model", stream: true });
    const error = await rejection((async () => {
      for await (const _ of progress) { /* drain */ }
    })());
    assert.equal(error.message, "pull model manifest: file does not exist");
    assert.equal((await client.list()).models.length, 2);
    const whole = await rejection(client.pull({ model: "qwen3" })) as Error & {
      status_code: number;
    };
    assert.equal(whole.status_code, 400, "a whole (stream false) pull is refused");
  });
});

Deno.test("OllamaDouble embed returns deterministic normalised 32-dimension vectors", async () => {
  await withDouble({}, async (_double, client) => {
    const first = await client.embed({ model: MODEL, input: ["the harbor", "a storm"] });
    const again = await client.embed({ model: MODEL, input: ["the harbor", "a storm"] });
    assert.equal(first.embeddings.length, 2);
    assert.equal(first.embeddings[0]!.length, 32);
    assert.deepEqual(first.embeddings, again.embeddings);
    assert.notDeepEqual(first.embeddings[0], first.embeddings[1]);
    assert.ok(Math.abs(Math.hypot(...first.embeddings[0]!) - 1) < 1e-9);
    const missing = await rejection(client.embed({ model: "nope", input: ["x"] })) as Error & {
      status_code: number;
    };
    assert.equal(missing.status_code, 404);
  });
});

Deno.test("fake-ollama parses --port, --delay and --words and names a bad flag", () => {
  assert.deepEqual(parseFakeOllamaFlags(["--port", "0", "--delay=5", "--no-split"]), {
    port: 0,
    delay: 5,
    words: 12,
    split: false,
  });
  assert.throws(() => parseFakeOllamaFlags(["--wrods", "3"]), /Cannot parse flag "--wrods"/);
  assert.throws(() => parseFakeOllamaFlags(["--delay", "-1"]), /current value is -1/);
  assert.throws(() => parseFakeOllamaFlags(["--port"]), /current value is undefined/);
});

Deno.test("fake-ollama serves the double until SIGTERM", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "lib/testing/ollama/fake_ollama.ts", "--port", "0"],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!banner.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    banner += value;
  }
  const url = /http:\/\/127\.0\.0\.1:\d+/.exec(banner)?.[0];
  assert.ok(url, `no URL in ${banner}`);
  const tags = await (await fetch(`${url}/api/tags`)).json();
  assert.ok(tags.models.length > 0);
  child.kill("SIGTERM");
  assert.equal((await child.status).code, 0);
  await reader.cancel();
});

Deno.test("deno task fake-ollama --help (and -h) prints the usage naming the task, not the file", async () => {
  for (const flag of ["--help", "-h"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "fake-ollama", flag],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(stdout.trim(), FAKE_OLLAMA_HELP);
    assert.match(stdout, /^Usage: deno task fake-ollama /);
    assert.ok(!stdout.includes(".ts"), stdout);
  }
});

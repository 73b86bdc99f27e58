/**
 * EmbeddedBackend with the real tiny model (TinyStories 260K) in its own
 * process: streaming, exact counts, structured output, K parallel sequences,
 * cancel, context overflow, a crash of the model process, and close().
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../helpers/assert.ts";
import { DialogueError, ErrorCode } from "../../../lib/base/dialogue_error.ts";
import {
  EmbeddedBackend,
  embeddedBackendFor,
  type EmbeddedBackendOptions,
} from "../../../lib/llm/embedded/embedded_backend.ts";
import { generationSchema } from "../../../lib/llm/generation_schema.ts";
import { ConversationContent } from "../../../lib/model/dialog_message.ts";
import type { ChatMessage } from "../../../lib/llm/llm_backend.ts";
import { z } from "zod";
import { TINY_MODEL, TINY_MODEL_MISSING } from "./tiny_model.ts";

const HELLO: ChatMessage[] = [
  { role: "system", content: "Once upon a time there was a sailor named Tom." },
  { role: "user", content: "Hello Tom, how is the sea today?" },
];

function backend(options: Partial<EmbeddedBackendOptions> = {}): EmbeddedBackend {
  // One thread: a test run shares the machine, and llama.cpp's threads spin.
  return new EmbeddedBackend({
    modelFile: TINY_MODEL,
    threads: 1,
    gpu: false,
    contextTokens: 1024,
    sequences: 1,
    ...options,
  });
}

/** Runs `fn` with a backend that is always closed afterwards. */
async function withBackend(
  options: Partial<EmbeddedBackendOptions>,
  fn: (b: EmbeddedBackend) => Promise<void>,
): Promise<void> {
  const b = backend(options);
  try {
    await fn(b);
  } finally {
    await b.close();
  }
}

/** Whether process `pid` runs, asked of `ps` (never /proc); a zombie waiting to be reaped has exited. */
async function processExists(pid: number): Promise<boolean> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  const stat = new TextDecoder().decode(out.stdout).trim();
  return stat !== "" && !stat.startsWith("Z");
}

const embedded = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: TINY_MODEL_MISSING, fn });

embedded("EmbeddedBackend.chat() streams the reply through onToken and times it", async () => {
  await withBackend({}, async (b) => {
    assertEquals(b.kind, "embedded");
    assertStringIncludes(b.description, "stories260K.gguf");
    assertEquals(b.pid, undefined, "nothing runs before the first use");
    const pieces: string[] = [];
    const result = await b.chat({
      model: "tiny",
      messages: HELLO,
      maxTokens: 40,
      seed: 1,
      temperature: 0.8,
    }, {
      onToken: (piece) => pieces.push(piece),
    });
    assert(pieces.length > 5, `${pieces.length} pieces`);
    assertEquals(pieces.join(""), result.content);
    assertEquals(result.doneReason, "length", "the tiny model tells stories past 40 tokens");
    assert(result.timeToFirstTokenMs > 0 && result.timeToFirstTokenMs <= result.wallMs);
    const m = result.metrics;
    assertEquals(m.sources, {
      promptTokens: "counted",
      generatedTokens: "counted",
      timings: "timed",
    });
    assert(m.loadMs > 0, "the first call waited for the load");
    assert(
      m.promptMs > 0 && m.generationMs > 0 && m.totalMs >= m.promptMs + m.generationMs,
      JSON.stringify(m),
    );
    const second = await b.chat({ model: "tiny", messages: HELLO, maxTokens: 5 });
    assertEquals(second.metrics.loadMs, 0, "loaded once");
  });
});

embedded("EmbeddedBackend.chat() counts exactly what the model evaluated and sampled", async () => {
  await withBackend({}, async (b) => {
    const result = await b.chat({
      model: "tiny",
      messages: HELLO,
      maxTokens: 33,
      seed: 2,
      temperature: 0.8,
    });
    assertEquals(
      result.metrics.promptTokens,
      await b.promptTokens(HELLO),
      "the tokenizer's count of the rendered prompt",
    );
    assertEquals(result.doneReason, "length");
    assertEquals(result.metrics.generatedTokens, 33, "cut at maxTokens: exactly maxTokens sampled");
    const longer = await b.promptTokens([...HELLO, { role: "assistant", content: "Ahoy!" }, {
      role: "user",
      content: "Tell me more.",
    }]);
    assert(longer > result.metrics.promptTokens);
  });
});

embedded(
  "EmbeddedBackend.chat() with a schema returns JSON that validates against ConversationContent",
  async () => {
    await withBackend({}, async (b) => {
      const result = await b.chat({
        model: "tiny",
        messages: [
          { role: "system", content: "You are Tom, a sailor. Answer as JSON." },
          HELLO[1]!,
        ],
        schema: generationSchema(z.toJSONSchema(ConversationContent) as Record<string, unknown>),
        temperature: 0.8,
        seed: 1,
      });
      assertEquals(result.doneReason, "stop");
      const reply = ConversationContent.parse(JSON.parse(result.content));
      assert(reply.message.length > 0);
    });
  },
);

embedded(
  "EmbeddedBackend runs K=2 chats at once in one model process, and a third waits for a free sequence",
  async () => {
    await withBackend({ sequences: 2 }, async (b) => {
      await b.ensureModel("tiny");
      const pid = b.pid;
      const clock = () => performance.now();
      const run = async (seed: number) => {
        let first = 0;
        const start = clock();
        const result = await b.chat({
          model: "tiny",
          messages: HELLO,
          maxTokens: 300,
          seed,
          temperature: 0.8,
        }, {
          onToken: () => first ||= clock(),
        });
        return { start, first, end: clock(), tokens: result.metrics.generatedTokens };
      };
      // K=1 for comparison: one generation alone.
      const alone = await run(9);
      const [a, c, d] = await Promise.all([run(1), run(2), run(3)]);
      assert(a && c && d);
      assert(a.first < c.end && c.first < a.end, "the first two overlap in time");
      assert(d.first >= Math.min(a.end, c.end), "the third starts only when a sequence is free");
      assertEquals(b.pid, pid, "one process served them all");
      const soloRate = alone.tokens / ((alone.end - alone.start) / 1000);
      const pairRate = (a.tokens + c.tokens) /
        ((Math.max(a.end, c.end) - Math.min(a.start, c.start)) / 1000);
      console.log(`K=1: ${soloRate.toFixed(0)} tok/s; K=2: ${pairRate.toFixed(0)} tok/s aggregate`);
    });
  },
);

embedded(
  "EmbeddedBackend.chat() cancelled by its signal rejects with `aborted` and frees the sequence",
  async () => {
    await withBackend({}, async (b) => {
      const controller = new AbortController();
      const error = await assertRejects<DialogueError>(
        () =>
          b.chat({ model: "tiny", messages: HELLO, maxTokens: 1000 }, {
            signal: controller.signal,
            onToken: () => controller.abort(),
          }),
        (e) => e instanceof DialogueError && e.code === ErrorCode.Aborted,
      );
      assertStringIncludes(error.message, "cancelled");
      // One sequence only: this would wait forever if the cancelled one held it.
      const next = await b.chat({ model: "tiny", messages: HELLO, maxTokens: 5 });
      assertEquals(next.metrics.generatedTokens, 5);
    });
  },
);

embedded(
  "EmbeddedBackend.chat() trims a history far over the context instead of failing",
  async () => {
    await withBackend({ contextTokens: 256 }, async (b) => {
      const turns: ChatMessage[] = [{ role: "system", content: "Once upon a time ".repeat(40) }];
      for (let i = 0; i < 40; i++) {
        turns.push({
          role: i % 2 ? "assistant" : "user",
          content: `Turn ${i}: ${"the boat went over the big blue sea. ".repeat(8)}`,
        });
      }
      assert((await b.promptTokens(turns)) > 256 * 10, "the history is far over the context");
      const result = await b.chat({ model: "tiny", messages: turns, maxTokens: 40, seed: 1 });
      assert(result.droppedTurns > 30, `${result.droppedTurns} turns dropped`);
      assert(
        result.metrics.promptTokens + result.metrics.generatedTokens <= 256,
        JSON.stringify(result.metrics),
      );
      assert(result.content.length > 0);
      // A last turn longer than the whole context: its end is kept.
      const huge = await b.chat({
        model: "tiny",
        messages: [{ role: "user", content: "sea ".repeat(2000) }],
        maxTokens: 20,
      });
      assert(huge.cut && huge.metrics.promptTokens + huge.metrics.generatedTokens <= 256);
    });
  },
);

embedded(
  "EmbeddedBackend.chat() fails with `llm_transient` when the model process dies mid-reply, and the next call restarts it",
  async () => {
    await withBackend({}, async (b) => {
      await b.ensureModel("tiny");
      const pid = b.pid!;
      const error = await assertRejects<DialogueError>(
        () =>
          b.chat({ model: "tiny", messages: HELLO, maxTokens: 1000 }, {
            onToken: () => {
              try {
                Deno.kill(pid, "SIGKILL");
              } catch {
                // killed by an earlier token already
              }
            },
          }),
        (e) => e instanceof DialogueError && e.code === ErrorCode.LlmTransient,
      );
      assertStringIncludes(error.message, "The embedded model process exited (signal SIGKILL)");
      const next = await b.chat({ model: "tiny", messages: HELLO, maxTokens: 5 });
      assertEquals(next.metrics.generatedTokens, 5);
      assert(b.pid !== undefined && b.pid !== pid, "a new process");
      assert(!(await processExists(pid)));
    });
  },
);

embedded(
  "EmbeddedBackend.close() disposes the model and leaves no process; closing twice is fine",
  async () => {
    const b = backend();
    await b.chat({ model: "tiny", messages: HELLO, maxTokens: 5 });
    const pid = b.pid!;
    assert(await processExists(pid));
    await b.close();
    assertEquals(b.pid, undefined);
    assert(!(await processExists(pid)), `process ${pid} is still there`);
    await b.close();
  },
);

embedded(
  "EmbeddedBackend.close() during a generation stops it with `aborted` and still leaves no process",
  async () => {
    const b = backend();
    let started!: () => void;
    const streaming = new Promise<void>((resolve) => started = resolve);
    // Its rejection is caught at once: it settles while close() is awaited.
    const outcome = b.chat({ model: "tiny", messages: HELLO, maxTokens: 5000 }, {
      onToken: () => started(),
    }).then(() => undefined, (error: unknown) => error);
    await streaming;
    const pid = b.pid!;
    await b.close();
    const error = await outcome;
    assert(error instanceof DialogueError && error.code === ErrorCode.Aborted, String(error));
    assert(!(await processExists(pid)));
  },
);

embedded(
  "EmbeddedBackend.chat() past requestTimeoutMs fails with `llm_transient` saying so",
  async () => {
    await withBackend({ requestTimeoutMs: 200 }, async (b) => {
      const error = await assertRejects<DialogueError>(
        () => b.chat({ model: "tiny", messages: HELLO, maxTokens: 100_000 }),
        (e) => e instanceof DialogueError && e.code === ErrorCode.LlmTransient,
      );
      assertStringIncludes(error.message, "did not finish within 200 ms");
    });
  },
);

embedded(
  "A process that never closes its EmbeddedBackend still exits, and its model process with it",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "dialogue-embedded-" });
    try {
      const script = `${dir}/forgets_close.ts`;
      const backendUrl =
        new URL("../../../lib/llm/embedded/embedded_backend.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import { EmbeddedBackend } from ${JSON.stringify(backendUrl)};
const b = new EmbeddedBackend({ modelFile: ${
          JSON.stringify(TINY_MODEL)
        }, threads: 1, gpu: false, contextTokens: 256, sequences: 1 });
await b.chat({ model: "tiny", messages: [{ role: "user", content: "hi" }], maxTokens: 3 });
console.log(b.pid);
`,
      );
      const config = new URL("../../../deno.json", import.meta.url).pathname;
      const run = await new Deno.Command("deno", {
        args: [
          "run",
          "--quiet",
          "--config",
          config,
          "--allow-read",
          "--allow-env",
          "--allow-run=deno",
          script,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
      const pid = Number(new TextDecoder().decode(run.stdout).trim());
      assert(pid > 0);
      // The host notices its stdin ended and exits on its own: wait for that, bounded.
      const deadline = Date.now() + 15_000;
      while (await processExists(pid)) {
        assert(Date.now() < deadline, `model process ${pid} outlived its parent`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

embedded("EmbeddedBackend.embed() gives one vector per text, in order", async () => {
  await withBackend({}, async (b) => {
    const texts = Array.from({ length: 40 }, (_, i) => `The boat number ${i} sailed.`);
    const vectors = await b.embed("tiny", texts);
    assertEquals(vectors.length, 40, "more than one batch");
    assert(vectors.every((v) => v.length === vectors[0]!.length && v.length > 0));
    const again = await b.embed("tiny", [texts[39]!]);
    assertEquals(again[0], vectors[39]);
  });
});

Deno.test("EmbeddedBackend.ensureModel() says in one line that a model file is missing or not GGUF, naming --model-file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dialogue-embedded-" });
  try {
    const notGguf = `${dir}/model.gguf`;
    await Deno.writeTextFile(notGguf, "not a model");
    for (
      const [file, why] of [[`${dir}/absent.gguf`, "does not exist"], [
        notGguf,
        "is not a GGUF file",
      ]]
    ) {
      const b = backend({ modelFile: file });
      const error = await assertRejects<DialogueError>(
        () => b.ensureModel("tiny"),
        (e) => e instanceof DialogueError && e.code === ErrorCode.ModelNotFound,
      );
      assertStringIncludes(error.message, file!);
      assertStringIncludes(error.message, why!);
      assertStringIncludes(error.message, "--model-file PATH");
      assert(!error.message.includes("\n"));
      assertEquals(b.pid, undefined, "no process for a file that cannot load");
      await b.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

embedded(
  "EmbeddedBackend retries a start that failed: a model file put in place afterwards is used",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "dialogue-embedded-" });
    const file = `${dir}/late.gguf`;
    const b = backend({ modelFile: file });
    try {
      await assertRejects(
        () => b.chat({ model: "tiny", messages: HELLO, maxTokens: 5 }),
        (e) => e instanceof DialogueError && e.code === ErrorCode.ModelNotFound,
      );
      await Deno.copyFile(TINY_MODEL, file);
      const result = await b.chat({ model: "tiny", messages: HELLO, maxTokens: 5 });
      assertEquals(result.metrics.generatedTokens, 5);
    } finally {
      await b.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("EmbeddedBackend.ensureModel() says in one line that llama.cpp cannot load a file that only looks like GGUF", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dialogue-embedded-" });
  const file = `${dir}/broken.gguf`;
  await Deno.writeFile(
    file,
    new Uint8Array([...new TextEncoder().encode("GGUF"), ...new Uint8Array(4096).fill(255)]),
  );
  const b = backend({ modelFile: file });
  try {
    const error = await assertRejects<DialogueError>(
      () => b.ensureModel("tiny"),
      (e) => e instanceof DialogueError && e.code === ErrorCode.ModelNotFound,
    );
    assertStringIncludes(
      error.message,
      `Cannot load the model file ${file} as llama.cpp refused it`,
    );
    assertStringIncludes(error.message, "--model-file PATH");
    assert(!error.message.includes("\n"));
  } finally {
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embeddedBackendFor() maps the embedded settings: gpu off is false, K sequences", () => {
  const b = embeddedBackendFor({
    model_file: "/m/x.gguf",
    threads: 3,
    gpu: "off",
    context_tokens: 2048,
  }, 4);
  assertEquals(b.kind, "embedded");
  assertEquals(b.description, "embedded llama.cpp (x.gguf, 4 sequences)");
});

embedded(
  "the model process inherits none of this process's secrets: only PATH, HOME and the caches' variables",
  async () => {
    Deno.env.set("DIALOGUE_TEST_SECRET", "hunter2-in-env");
    try {
      await withBackend({}, async (b) => {
        await b.chat({ model: "tiny", messages: HELLO, maxTokens: 4, seed: 1 });
        const pid = b.pid;
        assert(pid !== undefined, "the model process runs");
        // `ps eww` shows a process's environment (never /proc).
        const out = await new Deno.Command("ps", {
          args: ["eww", "-o", "args=", "-p", String(pid)],
          stdout: "piped",
          stderr: "null",
        }).output();
        const text = new TextDecoder().decode(out.stdout);
        assertStringIncludes(text, "model_host.ts");
        assert(!text.includes("hunter2-in-env"), "the secret stayed behind");
        assert(!text.includes("DIALOGUE_TEST_SECRET"));
      });
    } finally {
      Deno.env.delete("DIALOGUE_TEST_SECRET");
    }
  },
);

embedded(
  "each agent's prompt stays evaluated between its turns: only what follows is evaluated again",
  async () => {
    await withBackend({}, async (b) => {
      const persona = (name: string): ChatMessage => ({
        role: "system",
        content: `You are ${name}, a sailor on a small boat. `.repeat(8),
      });
      const histories: ChatMessage[][] = [[persona("Tom")], [persona("Ann")]];
      const evaluated: number[] = [];
      const full: number[] = [];
      for (let turn = 0; turn < 4; turn++) {
        const history = histories[turn % 2]!;
        history.push({ role: "user", content: `Turn ${turn}: how is the sea today?` });
        full.push(await b.promptTokens(history));
        const result = await b.chat({ model: "tiny", messages: history, maxTokens: 8, seed: 1 });
        evaluated.push(result.metrics.promptTokens);
        history.push({ role: "assistant", content: result.content });
      }
      // The first turn of each agent evaluates its whole prompt; its next one
      // only the new messages, though the other agent spoke in between.
      assertEquals(evaluated.slice(0, 2), full.slice(0, 2));
      for (const turn of [2, 3]) {
        assert(
          evaluated[turn]! < full[turn]! / 2,
          `turn ${turn}: ${evaluated[turn]} of ${full[turn]}`,
        );
      }
    });
  },
);

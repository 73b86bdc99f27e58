/**
 * generationSchema(): the grammar-sized schema sent to a model. Pure checks,
 * then the real grammar: node-llama-cpp compiles our two schemas (in the
 * embedded model's process) and the tiny model's scenarios validate.
 */
import { SCENARIO_JSON_SCHEMA } from "../../../lib/manager/scenario_writer.ts";
import { REPLY_JSON_SCHEMA } from "../../../lib/agent/agent_reply.ts";
import { PERSONA_VERDICT_JSON_SCHEMA } from "../../../lib/analysis/persona_judge.ts";
import { z } from "zod";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../helpers/assert.ts";
import {
  DEFAULT_ITEMS_BOUND,
  DEFAULT_STRING_BOUND,
  generationSchema,
} from "../../../lib/llm/generation_schema.ts";
import { EmbeddedBackend } from "../../../lib/llm/embedded/embedded_backend.ts";
import { DialogueError, ErrorCode } from "../../../lib/base/dialogue_error.ts";
import { Scenario } from "../../../lib/model/story.ts";
import { ConversationContent } from "../../../lib/model/dialog_message.ts";
import { DEFAULT_TEMPLATES } from "../../../lib/config/prompt_template.ts";
import { TINY_MODEL, TINY_MODEL_MISSING } from "./tiny_model.ts";

type Json = Record<string, unknown>;
const SCENARIO = z.toJSONSchema(Scenario) as Json;
const REPLY = z.toJSONSchema(ConversationContent) as Json;

/** Every `key` value anywhere in `node`. */
function valuesOf(node: unknown, key: string): unknown[] {
  if (Array.isArray(node)) return node.flatMap((n) => valuesOf(n, key));
  if (typeof node !== "object" || node === null) return [];
  return Object.entries(node).flatMap(([k, v]) => [...(k === key ? [v] : []), ...valuesOf(v, key)]);
}

Deno.test("generationSchema() bounds every string and array of the scenario schema, keeping smaller bounds and minimums", () => {
  const sent = generationSchema(SCENARIO);
  const lengths = valuesOf(sent, "maxLength") as number[];
  assert(lengths.length >= 8);
  assert(lengths.every((n) => n <= DEFAULT_STRING_BOUND), JSON.stringify(lengths));
  assert(lengths.includes(100), "a persona's name keeps its own 100");
  const story = (sent.properties as Json).story as Json;
  const characters = (story.properties as Json).characters as Json;
  assertEquals([characters.minItems, characters.maxItems], [2, DEFAULT_ITEMS_BOUND]);
  const personas = (sent.properties as Json).personas as Json;
  assertEquals([personas.minItems, personas.maxItems], [2, 2], "exactly two stays exactly two");
  assertEquals(valuesOf(sent, "$schema"), []);
  assert(valuesOf(sent, "additionalProperties").every((v) => v === false));
  assertEquals(SCENARIO.$schema !== undefined, true, "the input is not changed");
});

Deno.test("generationSchema() keeps enums, drops patterns and formats a grammar cannot take, and turns anyOf into oneOf", () => {
  const sent = generationSchema({
    type: "object",
    properties: {
      mood: { type: "string", enum: ["a", "b"] },
      code: { type: "string", pattern: "^[a-z]+$", maxLength: 9000 },
      url: { type: "string", format: "uri" },
      when: { type: "string", format: "date" },
      either: { anyOf: [{ type: "string" }, { type: "null" }] },
      count: { type: "integer", minimum: 0, maximum: 9_007_199_254_740_991 },
    },
  }, { maxStringLength: 50 });
  const p = sent.properties as Record<string, Json>;
  assertEquals(p.mood, { type: "string", enum: ["a", "b"] });
  assertEquals(p.code, { type: "string", maxLength: 50 });
  assertEquals(p.url, { type: "string", maxLength: 50 });
  assertEquals(p.when, { type: "string", format: "date" });
  assertEquals(p.either, { oneOf: [{ type: "string", maxLength: 50 }, { type: "null" }] });
  assertEquals(p.count, { type: "integer" });
  assertEquals(sent.additionalProperties, false);
});

Deno.test("generationSchema() never bounds below a minimum, so what the grammar allows can validate", () => {
  const sent = generationSchema({
    type: "array",
    minItems: 6,
    items: { type: "string", minLength: 120 },
  }, { maxStringLength: 80, maxItems: 4 });
  assertEquals(sent.maxItems, 6);
  assertEquals((sent.items as Json).maxLength, 120);
});

Deno.test("generationSchema() refuses a bound that is not a positive integer", () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    let thrown: unknown;
    try {
      generationSchema(REPLY, { maxStringLength: bad });
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof RangeError, String(bad));
  }
});

function tinyBackend(): EmbeddedBackend {
  return new EmbeddedBackend({
    modelFile: TINY_MODEL,
    threads: 1,
    gpu: false,
    contextTokens: 2048,
    sequences: 1,
  });
}

const SCENARIO_PROMPT = DEFAULT_TEMPLATES.scenario.replace(
  "{{topic}}",
  "a lighthouse keeper and a lost sailor",
);

Deno.test({
  name:
    "llama.cpp refuses the raw scenario schema's big string bounds and compiles the same schema with only those bounded",
  ignore: TINY_MODEL_MISSING,
  async fn() {
    const backend = tinyBackend();
    try {
      const ask = (schema: Json) =>
        backend.chat({
          model: "tiny",
          messages: [{ role: "user", content: "Write JSON." }],
          schema,
          maxTokens: 4,
        });
      const error = await assertRejects<DialogueError>(
        () => ask(SCENARIO),
        (e) => e instanceof DialogueError && e.code === ErrorCode.InvalidOutput,
      );
      assertStringIncludes(error.message, "cannot compile its grammar");
      assert(!error.message.includes("\n"), "one line");
      // Only the string bounds lowered, nothing else changed: now it compiles.
      const boundsOnly = JSON.parse(
        JSON.stringify(SCENARIO).replace(
          /"maxLength":(\d+)/g,
          (_, n) => `"maxLength":${Math.min(Number(n), 400)}`,
        ),
      );
      await ask(boundsOnly);
      // Ours, and the reply's (whose single 32,000 bound this llama.cpp happens to take).
      await ask(generationSchema(SCENARIO));
      await ask(generationSchema(REPLY));
      await ask(REPLY);
      // Every schema we send, exactly as sent.
      for (const sent of [SCENARIO_JSON_SCHEMA, REPLY_JSON_SCHEMA, PERSONA_VERDICT_JSON_SCHEMA]) {
        await ask(sent);
      }
    } finally {
      await backend.close();
    }
  },
});

Deno.test({
  name:
    "the tiny model writes a scenario that validates first try with the generation schema (temperature 0.8, five seeds)",
  ignore: TINY_MODEL_MISSING,
  async fn() {
    const backend = tinyBackend();
    try {
      const schema = generationSchema(SCENARIO);
      let valid = 0;
      const problems: string[] = [];
      for (let seed = 1; seed <= 5; seed++) {
        const result = await backend.chat({
          model: "tiny",
          messages: [{ role: "user", content: SCENARIO_PROMPT }],
          schema,
          temperature: 0.8,
          seed,
        });
        try {
          const parsed = Scenario.safeParse(JSON.parse(result.content));
          if (parsed.success) valid++;
          else problems.push(parsed.error.issues[0]!.message);
        } catch (error) {
          problems.push(`${result.doneReason}: ${(error as Error).message}`);
        }
      }
      console.log(`valid first try: ${valid}/5 at maxLength ${DEFAULT_STRING_BOUND}`);
      assert(valid >= 4, `only ${valid}/5 valid: ${problems.join("; ")}`);
    } finally {
      await backend.close();
    }
  },
});

Deno.test({
  name: "the tiny model's structured reply validates against ConversationContent",
  ignore: TINY_MODEL_MISSING,
  async fn() {
    const backend = tinyBackend();
    try {
      const result = await backend.chat({
        model: "tiny",
        messages: [
          { role: "system", content: "You are Tom, a sailor. Answer as JSON." },
          { role: "user", content: "Hello Tom, how is the sea?" },
        ],
        schema: generationSchema(REPLY),
        temperature: 0.8,
        seed: 1,
      });
      assertEquals(result.doneReason, "stop");
      const reply = ConversationContent.parse(JSON.parse(result.content));
      assert(reply.message.length <= DEFAULT_STRING_BOUND);
    } finally {
      await backend.close();
    }
  },
});

Deno.test("generationSchema() sends a small integer range as the enum of its values (a grammar drops minimum/maximum)", () => {
  const sent = generationSchema({
    type: "object",
    properties: {
      score: { type: "integer", minimum: 1, maximum: 5 },
      year: { type: "integer", minimum: 0, maximum: 3000 },
    },
  }) as { properties: Record<string, Record<string, unknown>> };
  assertEquals(sent.properties.score, { type: "integer", enum: [1, 2, 3, 4, 5] });
  assertEquals(sent.properties.year, { type: "integer" }, "a wide range is left to validation");
});

import assert from "node:assert/strict";
import { z } from "zod";
import { ConversationContent } from "../../../lib/model/dialog_message.ts";
import { Scenario } from "../../../lib/model/story.ts";
import { streamChat, user, withDouble } from "./double_helpers.ts";

Deno.test("OllamaDouble structured output for ConversationContent validates with the zod schema over 20 prompts", async () => {
  await withDouble({}, async (_double, client) => {
    const format = z.toJSONSchema(ConversationContent);
    for (let i = 0; i < 20; i++) {
      const { chunks, content } = await streamChat(client, {
        messages: user(`prompt number ${i}`),
        format,
      });
      assert.ok(chunks.length > 6, "JSON should arrive in many small pieces");
      assert.ok(chunks.some((c) => /^ \p{L}/u.test(c)), "pieces inside strings");
      const parsed = ConversationContent.parse(JSON.parse(content));
      assert.ok(parsed.message.split(" ").length >= 5);
    }
  });
});

Deno.test("OllamaDouble structured output for Scenario validates with the zod schema over 20 prompts", async () => {
  await withDouble({}, async (_double, client) => {
    const format = z.toJSONSchema(Scenario);
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const { content } = await streamChat(client, {
        messages: user(`write scenario ${i}`),
        format,
      });
      const scenario = Scenario.parse(JSON.parse(content));
      assert.equal(scenario.personas.length, 2);
      seen.add(scenario.story.setting);
    }
    assert.ok(seen.size > 10, "settings should vary with the prompt");
  });
});

Deno.test("OllamaDouble answers format json with an object holding a message", async () => {
  await withDouble({}, async (_double, client) => {
    const { content } = await streamChat(client, { messages: user("x"), format: "json" });
    const value = JSON.parse(content);
    assert.deepEqual(Object.keys(value), ["message"]);
    assert.equal(typeof value.message, "string");
  });
});

Deno.test("OllamaDouble structured output honours bounds, lengths, enums, unions and $ref", async () => {
  const Point = z.object({ x: z.int().min(-3).max(3), y: z.number().gt(0).lt(1) });
  const Shape = z.object({
    title: z.string().min(30).max(40),
    code: z.string().length(1),
    kind: z.enum(["circle", "square"]),
    tag: z.literal("v1"),
    visible: z.boolean(),
    id: z.union([z.number(), z.string()]),
    note: z.string().nullable(),
    extra: z.string().optional(),
    when: z.iso.datetime(),
    contact: z.email(),
    corners: z.array(z.string().min(1)).min(3).max(5),
    origin: Point,
    path: z.array(Point).max(4),
  });
  const withRefs = {
    ...z.toJSONSchema(Shape),
    $defs: { point: z.toJSONSchema(Point) },
    properties: {
      ...(z.toJSONSchema(Shape).properties as Record<string, unknown>),
      origin: { $ref: "#/$defs/point" },
    },
  };
  await withDouble({}, async (_double, client) => {
    for (let i = 0; i < 20; i++) {
      for (const format of [z.toJSONSchema(Shape), withRefs]) {
        const { content } = await streamChat(client, { messages: user(`shape ${i}`), format });
        Shape.parse(JSON.parse(content));
      }
    }
  });
});

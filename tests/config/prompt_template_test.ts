import assert from "node:assert/strict";
import {
  checkTemplate,
  DEFAULT_TEMPLATES,
  renderTemplate,
  TEMPLATE_PLACEHOLDERS,
  type TemplateName,
} from "../../lib/config/prompt_template.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";

function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof DialogueError, String(error));
    assert.equal(error.code, ErrorCode.Usage);
    return error.message;
  }
  assert.fail("expected a usage error");
}

Deno.test("renderTemplate() fills each placeholder, with or without inner spaces", () => {
  const out = renderTemplate("first_turn", "{{name}} meets {{ partner }}: {{initial_situation}}", {
    name: "Mara",
    partner: "Ilya",
    initial_situation: "the lamp is out",
  });
  assert.equal(out, "Mara meets Ilya: the lamp is out");
});

Deno.test("renderTemplate() fills a placeholder used several times everywhere", () => {
  assert.equal(
    renderTemplate("scenario", "{{topic}} / {{topic}}", { topic: "tea" }),
    "tea / tea",
  );
});

Deno.test("renderTemplate() leaves a known placeholder without a value empty", () => {
  assert.equal(renderTemplate("first_turn", "[{{partner}}]", {}), "[]");
});

Deno.test("renderTemplate() inserts values literally, never expanding them again", () => {
  const out = renderTemplate("first_turn", "{{name}} and {{partner}}", {
    name: "{{partner}} $& $1",
    partner: "Ilya",
  });
  assert.equal(out, "{{partner}} $& $1 and Ilya");
});

Deno.test("renderTemplate() rejects an unknown placeholder, naming it and the known ones", () => {
  const message = usageMessage(() => renderTemplate("first_turn", "Hello {{nmae}}", { name: "x" }));
  assert.ok(message.includes("{{nmae}}"), message);
  assert.ok(message.includes("prompts.first_turn"), message);
  for (const known of TEMPLATE_PLACEHOLDERS.first_turn) {
    assert.ok(message.includes(`{{${known}}}`), message);
  }
});

Deno.test("checkTemplate() rejects a placeholder that belongs to another template", () => {
  const message = usageMessage(() => checkTemplate("agent_system", "About {{topic}}"));
  assert.ok(message.includes("{{topic}}"), message);
  assert.ok(message.includes("prompts.agent_system"), message);
  assert.ok(message.includes("{{speaking_style}}"), message);
});

Deno.test("checkTemplate() rejects placeholders that differ only in case or spelling", () => {
  usageMessage(() => checkTemplate("scenario", "{{Topic}}"));
  usageMessage(() => checkTemplate("scenario", "{{topic-name}}"));
});

Deno.test("checkTemplate() accepts text without placeholders and single braces", () => {
  checkTemplate("scenario", 'Answer with JSON only, e.g. {"a": 1}.');
});

Deno.test("every default template uses only its known placeholders and renders them all", () => {
  for (const name of Object.keys(DEFAULT_TEMPLATES) as TemplateName[]) {
    const template = DEFAULT_TEMPLATES[name];
    checkTemplate(name, template);
    const values = Object.fromEntries(
      TEMPLATE_PLACEHOLDERS[name].map((key) => [key, `<${key}>`]),
    );
    const out = renderTemplate(name, template, values);
    assert.ok(!out.includes("{{"), `${name}: ${out}`);
  }
  assert.ok(
    renderTemplate("scenario", DEFAULT_TEMPLATES.scenario, { topic: "a heist" }).includes(
      "a heist",
    ),
  );
});

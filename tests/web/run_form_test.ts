import { throws } from "node:assert/strict";
import { assertEquals } from "../helpers/assert.ts";
import { RunForm, runRequest } from "../../lib/web/run_form.ts";
import { parseConfig } from "../../lib/config/config.ts";
import { STORY_SCENARIO } from "./web_rig.ts";

Deno.test("runRequest() turns the form into a config layer the schema accepts, blanks left out", () => {
  const form = RunForm.parse({
    topic: " tea ",
    agent1_model: "a",
    agent2_model: "b",
    manager_model: "",
    backend: "ollama",
    max_turns: 4,
    duration_seconds: 90,
  });
  const { layer, scenario } = runRequest(form);
  assertEquals(scenario, undefined);
  const config = parseConfig(layer);
  assertEquals(config.manager.topic, "tea");
  assertEquals([config.agents.agent1?.model, config.agents.agent2?.model], ["a", "b"]);
  assertEquals([config.conversation.max_turns, config.conversation.duration_seconds], [4, 90]);
  assertEquals(config.backend, "ollama");
});

Deno.test("runRequest() reads a story file's JSON and names what is wrong with a bad one", () => {
  assertEquals(runRequest({ story: JSON.stringify(STORY_SCENARIO) }).scenario, STORY_SCENARIO);
  throws(() => runRequest({ story: "{" }), { name: "RangeError", message: /not JSON/ });
  throws(
    () => runRequest({ story: JSON.stringify({ ...STORY_SCENARIO, personas: [] }) }),
    { name: "RangeError", message: /personas/ },
  );
  assertEquals(RunForm.safeParse({ max_turns: 0 }).success, false);
  assertEquals(RunForm.safeParse({ unknown: 1 }).success, false, "unknown fields refused");
});

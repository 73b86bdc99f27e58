/// <reference lib="dom" />
/**
 * Starting a run from the page: topic or story file, models per agent,
 * backend, limits. Says plainly when no worker is up (the run would wait).
 *
 * @module
 */
import { useState } from "preact/hooks";
import { html } from "./html.ts";
import { postJson } from "./api.ts";

/** Live pools, as the server last saw them. */
export interface Workers {
  managers: number;
  agents: number;
  /** Whether the server reaches Redis. */
  redis?: "up" | "down";
}

/** The message for missing pools, or undefined when a run can start. */
export function workersNote(w: Workers): string | undefined {
  if (w.managers > 0 && w.agents > 0) return undefined;
  const missing = [
    w.managers === 0 && "no manager pool (deno task manager --pool)",
    w.agents === 0 && "no agent pool (deno task agent)",
  ].filter(Boolean).join(" and ");
  return `No worker is up: ${missing} is running. Start them, or use deno task chat.`;
}

/** The form. */
export function NewRun(props: { workers: Workers; onStarted: (id: string) => void }) {
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const note = workersNote(props.workers);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    const text = (name: string) => String(form.get(name) ?? "").trim() || undefined;
    const num = (name: string) => text(name) === undefined ? undefined : Number(text(name));
    const file = form.get("story_file");
    let story = text("story");
    if (file instanceof File && file.size > 0) story = await file.text();
    const body = {
      topic: text("topic"),
      story,
      manager_model: text("manager_model"),
      agent1_model: text("agent1_model"),
      agent2_model: text("agent2_model"),
      backend: text("backend"),
      max_turns: num("max_turns"),
      duration_seconds: num("duration_seconds"),
    };
    setBusy(true);
    setError(undefined);
    try {
      const { id } = await postJson("/api/runs", body);
      props.onStarted(String(id));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="new-run" onSubmit=${submit}>
    <h2>New run</h2>
    ${note && html`<p class="warning" data-field="workers-missing">${note}</p>`}
    <label>Topic <input name="topic" placeholder="two astronauts arguing about the last coffee" /></label>
    <label>Story (JSON, optional) <textarea name="story" rows="3"
      placeholder='{"story": {...}, "personas": [{...}, {...}]}'></textarea></label>
    <label>or a story file <input type="file" name="story_file" accept=".json,application/json" /></label>
    <div class="row">
      <label>Agent 1 model <input name="agent1_model" /></label>
      <label>Agent 2 model <input name="agent2_model" /></label>
      <label>Manager model <input name="manager_model" /></label>
    </div>
    <div class="row">
      <label>Backend <select name="backend">
        <option value="">as configured</option>
        <option value="auto">auto</option><option value="ollama">ollama</option>
        <option value="openai">openai</option><option value="embedded">embedded</option>
      </select></label>
      <label>Max turns <input name="max_turns" type="number" min="1" /></label>
      <label>Duration (s) <input name="duration_seconds" type="number" min="1" /></label>
    </div>
    <button type="submit" disabled=${busy || note !== undefined}>Start</button>
    ${error && html`<p class="error" data-field="run-error">${error}</p>`}
  </form>`;
}

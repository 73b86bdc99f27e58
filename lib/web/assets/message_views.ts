/// <reference lib="dom" />
/**
 * The parts of a conversation's page: finished messages with their
 * figures, the turn being generated (its text appended node by node as
 * tokens arrive, never re-rendered), and the analysis with its links.
 * Model text is always a child text node: shown as text, never as HTML.
 *
 * @module
 */
import { memo } from "preact/compat";
import { useEffect, useRef } from "preact/hooks";
import { html } from "./html.ts";
import { formatDuration } from "../../view/format_duration.ts";
import type { InflightView, MessageView } from "../conversation_events.ts";
import type { RunAnalysis } from "../../analysis/run_analysis.ts";

/** Where the text of each turn being generated goes: its node once drawn, its text so far. */
export class TokenSinks {
  readonly nodes = new Map<number, HTMLElement>();
  readonly texts = new Map<number, string>();

  append(seq: number, text: string): void {
    this.texts.set(seq, (this.texts.get(seq) ?? "") + text);
    this.nodes.get(seq)?.append(document.createTextNode(text));
  }
}

/** The figures a message has. */
function Figures(props: { m: MessageView }) {
  const r = props.m.figures;
  const items: [string, string][] = [];
  if (r) {
    items.push(["tokens", `${r.tokens}${r.done_reason === "length" ? " (cut at the limit)" : ""}`]);
    if (r.tokens_per_second > 0) items.push(["tok/s", r.tokens_per_second.toFixed(1)]);
    if (r.ttft_ms > 0) items.push(["TTFT", formatDuration(r.ttft_ms)]);
    if (r.generation_ms > 0) items.push(["generation", formatDuration(r.generation_ms)]);
    if (r.bus_overhead_ms !== null) {
      items.push(["bus overhead", `${r.bus_overhead_ms.toFixed(2)} ms`]);
    }
    if (r.done_reason) items.push(["done", r.done_reason]);
    if (r.attempts !== null) items.push(["attempts", String(r.attempts)]);
  }
  if (props.m.token_source) items.push(["token source", props.m.token_source]);
  if (props.m.sentiment) items.push(["sentiment", props.m.sentiment]);
  return html`<dl class="msg-figures">
    ${
    items.map(([k, v]) =>
      html`
        <div data-figure=${k}>
          <dt>${k}</dt>
          <dd>${v}</dd>
        </div>
      `
    )
  }
  </dl>`;
}

/** A finished message; re-rendered only when it changes (a long conversation stays cheap). */
export const Message = memo(function Message(props: { m: MessageView; name: string }) {
  const m = props.m;
  return html`<article class=${`message agent-${m.agent}`} data-seq=${m.seq}>
    <h3>[${m.seq}] ${props.name} <span class="model">(${m.model})</span></h3>
    <p class="text">${m.content}</p>
    <${Figures} m=${m} />
    ${m.references.length > 0 && html`<p class="refs">references: ${m.references.join(" · ")}</p>`}
    ${m.last_error && html`<p class="retry">retried after: ${m.last_error}</p>`}
    ${m.error && html`<p class="error">${m.error}</p>`}
  </article>`;
}, (a, b) => a.m === b.m && a.name === b.name);

/** The turn being generated; tokens go straight to its text node. */
export function Inflight(props: { turn: InflightView; name: string; sinks: TokenSinks }) {
  const ref = useRef<HTMLParagraphElement>(null);
  const { seq } = props.turn;
  useEffect(() => {
    const node = ref.current;
    if (!node) return;
    node.textContent = props.sinks.texts.get(seq) ?? "";
    props.sinks.nodes.set(seq, node);
    return () => props.sinks.nodes.delete(seq);
  }, [seq]);
  return html`
    <article class=${`message inflight agent-${props.turn.agent}`} data-seq=${seq}>
      <h3>[${seq}] ${props.name} <span class="model">(${props.turn
        .model})</span> <span class="typing">…</span></h3>
      <p class="text" ref=${ref}></p>
    </article>
  `;
}

/** The analysis of an ended run, with the report and exports. */
export function Analysis(props: { id: string; a: RunAnalysis }) {
  const { a, id } = props;
  const base = `/api/conversations/${encodeURIComponent(id)}`;
  return html`<section class="analysis" data-field="analysis">
    <h2>Analysis</h2>
    <ul class="headline">
      <li>${a.conversation.status} (${
    a.conversation.stop_reason ?? "no reason"
  }) after ${a.conversation.turns} of ${a.conversation.max_turns} turns</li>
      ${
    a.conversation.duration_ms !== null &&
    html`<li>duration ${formatDuration(a.conversation.duration_ms)}</li>`
  }
      <li>${a.overall.tokens_generated} tokens · mean ${
    a.overall.tokens_per_second.mean.toFixed(1)
  } tok/s · ttft p50 ${formatDuration(a.overall.time_to_first_token_ms.p50)}</li>
      <li>distinct-2 ${a.dialogue.diversity.overall.distinct_2.toFixed(2)} · repetition ${
    a.dialogue.repetition.rate.toFixed(2)
  }</li>
    </ul>
    ${a.conversation.nothing_to_analyse && html`<p>${a.conversation.nothing_to_analyse}</p>`}
    ${
    a.flags.length > 0 &&
    html`<ul class="analysis-flags">${
      a.flags.map((f) =>
        html`<li><span class=${`flag flag-${f.code}`}>${f.code}</span> ${f.message}</li>`
      )
    }</ul>`
  }
    <p class="links">
      <a href=${`${base}/report.html`} target="_blank" rel="noopener">HTML report</a> ·
      <a href=${`${base}/analysis.json`} target="_blank" rel="noopener">analysis JSON</a> ·
      export <a href=${`${base}/export/jsonl`}>jsonl</a> ·
      <a href=${`${base}/export/sharegpt`}>sharegpt</a> ·
      <a href=${`${base}/export/openai`}>openai</a>
    </p>
  </section>`;
}

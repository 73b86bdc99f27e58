/// <reference lib="dom" />
/**
 * One conversation: story and personas, the messages streaming token by
 * token coloured per speaker, each message's figures, live charts per turn,
 * the analysis when it ends with links to the report and exports, replay
 * at a chosen speed, and interrupt/resume.
 *
 * Tokens are appended to the turn's text node by node as they arrive
 * rather than through a re-render: one DOM append per token batch instead
 * of a diff of the whole conversation, which keeps token → screen time flat
 * however long the conversation is (bench/web_bench.ts measures it).
 *
 * @module
 */
import { memo } from "preact/compat";
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.ts";
import { openStream, postJson } from "./api.ts";
import { TurnCharts } from "./turn_charts.ts";
import { secondsLeft } from "./overview.ts";
import { formatClock, formatDuration } from "../../view/format_duration.ts";
import type { ConversationCard } from "../conversation_card.ts";
import type {
  ConversationEvent,
  ConversationSnapshot,
  InflightView,
  MessageView,
} from "../conversation_events.ts";
import type { RunAnalysis, TurnRow } from "../../analysis/run_analysis.ts";

interface _State {
  snapshot?: ConversationSnapshot;
  missing?: boolean;
}

/** Where the text of each turn being generated goes, by turn. */
class _TokenSinks {
  readonly nodes = new Map<number, HTMLElement>();
  readonly texts = new Map<number, string>();

  append(seq: number, text: string): void {
    this.texts.set(seq, (this.texts.get(seq) ?? "") + text);
    this.nodes.get(seq)?.append(document.createTextNode(text));
  }
}

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
const Message = memo(function Message(props: { m: MessageView; name: string }) {
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

function Inflight(props: { turn: InflightView; name: string; sinks: _TokenSinks }) {
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

function Analysis(props: { id: string; a: RunAnalysis }) {
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

/**
 * Replays finished messages at `speed` times their pace: each message is
 * typed out over its generation time, the gap before it kept (capped).
 */
function useReplay(messages: MessageView[], rows: TurnRow[]) {
  const [replay, setReplay] = useState<{ shown: number; partial: string } | undefined>();
  const stop = useRef<() => void>(() => {});
  const start = (speed: number) => {
    stop.current();
    let cancelled = false;
    stop.current = () => cancelled = true;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    (async () => {
      for (let i = 0; i < messages.length && !cancelled; i++) {
        const m = messages[i]!;
        const row = rows.find((r) => r.seq === m.seq);
        const gen = Math.max(200, row?.generation_ms ?? 1000) / speed;
        const gap = i === 0
          ? 0
          : Math.min(3000, Math.max(0, (row?.latency_ms ?? 0) - (row?.generation_ms ?? 0))) / speed;
        setReplay({ shown: i, partial: "" });
        await sleep(gap);
        const steps = Math.max(1, Math.round(gen / 40));
        for (let s = 1; s <= steps && !cancelled; s++) {
          setReplay({
            shown: i,
            partial: m.content.slice(0, Math.ceil(m.content.length * s / steps)),
          });
          await sleep(gen / steps);
        }
      }
      if (!cancelled) setReplay(undefined);
    })();
  };
  useEffect(() => () => stop.current(), []);
  return { replay, start, stop: () => (stop.current(), setReplay(undefined)) };
}

/** The conversation page. */
export function ConversationPage(props: { id: string; serverNow: number }) {
  const [state, setState] = useState<_State>({});
  const sinks = useRef(new _TokenSinks()).current;
  const [actionError, setActionError] = useState<string | undefined>();
  const [speed, setSpeed] = useState(5);
  useEffect(() => {
    let snap: ConversationSnapshot | undefined;
    const update = (f: (s: ConversationSnapshot) => ConversationSnapshot) => {
      if (!snap) return;
      snap = f(snap);
      setState({ snapshot: snap });
    };
    const close = openStream(`/api/conversations/${encodeURIComponent(props.id)}/events`, {
      event: (data) => {
        const e = data as ConversationEvent;
        switch (e.type) {
          case "snapshot":
            snap = e.snapshot;
            sinks.texts.clear();
            for (const f of snap.inflight) sinks.texts.set(f.seq, f.text);
            setState({ snapshot: snap });
            return;
          case "turn_start":
            sinks.texts.set(e.seq, "");
            update((s) => ({
              ...s,
              inflight: [...s.inflight.filter((f) => f.seq !== e.seq), {
                seq: e.seq,
                agent: e.agent,
                model: e.model,
                text: "",
              }],
            }));
            return;
          case "tokens":
            if (!snap?.inflight.some((f) => f.seq === e.seq)) {
              update((s) => ({
                ...s,
                inflight: [...s.inflight, { seq: e.seq, agent: e.agent, model: "", text: "" }],
              }));
            }
            sinks.append(e.seq, e.text);
            return;
          case "message":
            sinks.texts.delete(e.message.seq);
            update((s) => ({
              ...s,
              inflight: s.inflight.filter((f) => f.seq !== e.message.seq),
              messages: [...s.messages.filter((m) => m.seq !== e.message.seq), e.message].sort((
                a,
                b,
              ) => a.seq - b.seq),
            }));
            return;
          case "rows":
            update((s) => ({ ...s, rows: e.rows }));
            return;
          case "abandoned":
            sinks.texts.delete(e.seq);
            update((s) => ({
              ...s,
              inflight: s.inflight.filter((f) => f.seq !== e.seq),
              notices: [...s.notices, `turn ${e.seq} abandoned: ${e.reason}`],
            }));
            return;
          case "notice":
            update((s) => ({ ...s, notices: [...s.notices, e.text] }));
            return;
          case "card":
            update((s) => ({ ...s, card: e.card }));
            return;
          case "analysis":
            update((s) => ({
              ...s,
              analysis: e.analysis,
              rows: e.analysis.per_turn,
              inflight: [],
            }));
            return;
        }
      },
    });
    return close;
  }, [props.id]);
  const snap = state.snapshot;
  const { replay, start, stop } = useReplay(snap?.messages ?? [], snap?.rows ?? []);
  if (!snap) return html`<p class="boot">Loading ${props.id}…</p>`;
  const card: ConversationCard = snap.card;
  const names = card.personas;
  const left = secondsLeft(card, props.serverNow);
  const act = async (action: "interrupt" | "resume") => {
    setActionError(undefined);
    try {
      await postJson(`/api/conversations/${encodeURIComponent(props.id)}/${action}`);
    } catch (err) {
      setActionError((err as Error).message);
    }
  };
  const messages = replay ? snap.messages.slice(0, replay.shown) : snap.messages;
  const typing = replay ? snap.messages[replay.shown] : undefined;
  return html`<section class="conversation" data-id=${props.id}>
    <header class="conv-head">
      <h2>${card.id} <span class=${`badge status-${card.status}`} data-field="status">${
    card.stop_reason ? `${card.status} (${card.stop_reason})` : card.status
  }</span></h2>
      <p class="models">
        <span class="agent-1">${names[0]}</span>: ${card.models.agent1} (${card.backends.agent1}) ·
        <span class="agent-2">${names[1]}</span>: ${card.models.agent2} (${card.backends.agent2}) ·
        manager ${card.models.manager} (${card.backends.manager})
      </p>
      <p class="figures"><span data-field="turns">turn ${card.turns}/${card.max_turns}</span>
        ${
    left !== undefined &&
    html`<span data-field="left">${` · ${formatClock(left)} left`}</span>`
  }
        ${
    card.flags.map((f) =>
      html`
        <span class=${`flag flag-${f}`}>${f}</span>
      `
    )
  }</p>
      <div class="controls">
        ${
    (card.status === "running" || card.status === "pending") &&
    html`<button data-action="interrupt" onClick=${() => act("interrupt")}>Interrupt</button>`
  }
        ${
    card.status === "interrupted" && html`<button data-action="resume" onClick=${() =>
      act("resume")}>Resume</button>`
  }
        ${
    snap.analysis && html`<span class="replay">
          <label>speed <select value=${speed} onChange=${(e: Event) =>
      setSpeed(Number((e.target as HTMLSelectElement).value))}>
            ${[1, 2, 5, 10, 50].map((s) => html`<option value=${s}>${s}×</option>`)}
          </select></label>
          ${
      replay
        ? html`<button data-action="stop-replay" onClick=${stop}>Stop replay</button>`
        : html`<button data-action="replay" onClick=${() => start(speed)}>Replay</button>`
    }
        </span>`
  }
      </div>
      ${actionError && html`<p class="error" data-field="action-error">${actionError}</p>`}
      ${card.error && html`<p class="error">${card.error}</p>`}
    </header>
    ${
    snap.scenario && html`
      <details class="story" open>
        <summary>Story and personas</summary>
        <p>${snap.scenario.story.setting}</p>
        <p><em>${snap.scenario.story.initial_situation}</em></p>
        <div class="personas">${snap.scenario.personas.map((p, i) =>
          html`
            <div class=${`persona agent-${i + 1}`}>
              <h4>${p.name}</h4>
              <p>${p.background}</p>
              <p>personality: ${p.personality}</p>
              <p>style: ${p.speaking_style}</p>
              <p>goal: ${p.goal}</p>
            </div>
          `
        )}</div>
      </details>
    `
  }
    <${TurnCharts} rows=${snap.rows} names=${names} />
    ${
    snap.notices.length > 0 && html`<ul class="notices">${
      snap.notices.map((n) => html`<li>${n}</li>`)
    }</ul>`
  }
    <div class="messages">
      ${messages.map((m) => html`<${Message} key=${m.seq} m=${m} name=${names[m.agent - 1]} />`)}
      ${
    typing && html`
      <article class=${`message replaying agent-${typing.agent}`}>
        <h3>[${typing.seq}] ${names[typing.agent - 1]}</h3>
        <p class="text">${replay?.partial}</p>
      </article>
    `
  }
      ${
    !replay && snap.inflight.map((f) =>
      html`<${Inflight} key=${`i${f.seq}`} turn=${f} name=${names[f.agent - 1]} sinks=${sinks} />`
    )
  }
    </div>
    ${snap.analysis && html`<${Analysis} id=${props.id} a=${snap.analysis} />`}
  </section>`;
}

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
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.ts";
import { openStream, postJson } from "./api.ts";
import { TurnCharts } from "./turn_charts.ts";
import { Analysis, Inflight, Message, TokenSinks } from "./message_views.ts";
import { useReplay } from "./replay.ts";
import { secondsLeft } from "./overview.ts";
import { formatClock } from "../../view/format_duration.ts";
import type { ConversationCard } from "../conversation_card.ts";
import type { ConversationEvent, ConversationSnapshot } from "../conversation_events.ts";

interface _State {
  snapshot?: ConversationSnapshot;
  missing?: boolean;
}

/** The conversation page. */
export function ConversationPage(props: { id: string; serverNow: number }) {
  const [state, setState] = useState<_State>({});
  const sinks = useRef(new TokenSinks()).current;
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

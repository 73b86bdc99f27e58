/// <reference lib="dom" />
/**
 * The overview: one card per conversation (running first, then newest),
 * filtered by status, model and flag and searched by id or persona. Cards
 * arrive in batches from the server (a few a second each) and each card
 * re-renders only when it changed.
 *
 * @module
 */
import { memo } from "preact/compat";
import { useState } from "preact/hooks";
import { html } from "./html.ts";
import { CARD_FLAGS, compareCards, type ConversationCard } from "../conversation_card.ts";
import { type CardFilter, cardMatches, cardModels } from "../card_filter.ts";
import { formatClock } from "../../view/format_duration.ts";

/**
 * Cards drawn at first, running ones first: with hundreds streaming, drawing
 * every card four times a second costs the page (and any other tab of the
 * dashboard) tens of milliseconds per batch; the rest are a click away.
 */
export const CARDS_PER_PAGE = 60;

/** Seconds left before `deadline` (server clock), or undefined. */
export function secondsLeft(card: ConversationCard, serverNow: number): number | undefined {
  if (card.deadline === undefined || (card.status !== "running" && card.status !== "pending")) {
    return undefined;
  }
  return Math.max(0, Math.round((card.deadline - serverNow) / 1000));
}

const Card = memo(function Card(props: { card: ConversationCard; serverNow: number }) {
  const c = props.card;
  const left = secondsLeft(c, props.serverNow);
  const speaker = c.speaking?.agent;
  const status = c.stop_reason ? `${c.status} (${c.stop_reason})` : c.status;
  return html`
    <a class=${`card status-${c.status}`} href=${`#/c/${encodeURIComponent(c.id)}`}
      data-id=${c.id}>
        <header>
          <span class="cid">${c.id}</span>
          <span class=${`badge status-${c.status}`} data-field="status">${status}</span>
        </header>
        <div class="personas">
          <span class="agent-1">${c.personas[0]}</span> ↔ <span class="agent-2">${c
            .personas[1]}</span>
        </div>
        <div class="models" data-field="models">
      ${`agent 1 ${c.models.agent1} (${c.backends.agent1}) · agent 2 ${c.models.agent2} (${c.backends.agent2}) · manager ${c.models.manager} (${c.backends.manager})`}
    </div>
    <div class="figures">
      <span data-field="turns">turn ${c.turns}/${c.max_turns}</span>
      ${left !== undefined &&
        html`<span data-field="left">${` · ${formatClock(left)} left`}</span>`}
      ${c.tokens_per_second !== undefined &&
        html`<span data-field="tps">${` · ${c.tokens_per_second.toFixed(1)} tok/s`}</span>`}
    </div>
    <div class="flags" data-field="flags">
          ${c.flags.map((f) => html`<span class=${`flag flag-${f}`}>${f}</span>`)}
        </div>
        <p class=${`last ${speaker ? `agent-${speaker}` : ""}`} data-field="last">${c.last}</p>
        ${c.error && html`<p class="error">${c.error}</p>`}
      </a>
  `;
}, (a, b) => a.card === b.card && _sameSecond(a, b));

function _sameSecond(
  a: { card: ConversationCard; serverNow: number },
  b: { card: ConversationCard; serverNow: number },
): boolean {
  return secondsLeft(a.card, a.serverNow) === secondsLeft(b.card, b.serverNow);
}

/** The overview page. */
export function Overview(props: { cards: Map<string, ConversationCard>; serverNow: number }) {
  const [filter, setFilter] = useState<CardFilter>({});
  const [limit, setLimit] = useState(CARDS_PER_PAGE);
  const all = [...props.cards.values()];
  const shown = all.filter((c) => cardMatches(c, filter)).sort(compareCards);
  const set = (key: keyof CardFilter) => (e: Event) =>
    setFilter({ ...filter, [key]: (e.target as HTMLInputElement).value });
  const running = all.filter((c) => c.status === "running").length;
  return html`<section class="overview">
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <input type="search" name="search" placeholder="Search id or persona"
        value=${filter.search ?? ""} onInput=${set("search")} />
      <select name="status" onChange=${set("status")}>
        <option value="">any status</option>
        ${
    ["pending", "running", "completed", "failed", "interrupted"].map((s) =>
      html`<option value=${s}>${s}</option>`
    )
  }
      </select>
      <select name="model" onChange=${set("model")}>
        <option value="">any model</option>
        ${cardModels(all).map((m) => html`<option value=${m}>${m}</option>`)}
      </select>
      <select name="flag" onChange=${set("flag")}>
        <option value="">any flag</option>
        ${CARD_FLAGS.map((f) => html`<option value=${f}>${f}</option>`)}
      </select>
      <span class="count" data-field="count">${shown.length} of ${all.length} · ${running} running</span>
    </form>
    <div class="cards">
      ${
    shown.slice(0, limit).map((c) =>
      html`<${Card} key=${c.id} card=${c} serverNow=${props.serverNow} />`
    )
  }
    </div>
    ${
    shown.length > limit &&
    html`
      <p class="more">
        <button data-action="more" onClick=${() => setLimit(limit + CARDS_PER_PAGE)}>
              ${`Show ${Math.min(CARDS_PER_PAGE, shown.length - limit)} more (${
                shown.length - limit
              } not shown)`}
            </button>
      </p>
    `
  }
    ${all.length === 0 && html`<p class="empty">No conversation yet: start one with “New run”.</p>`}
  </section>`;
}

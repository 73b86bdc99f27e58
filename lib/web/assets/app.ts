/// <reference lib="dom" />
/**
 * The dashboard page: the overview stream (cards in batches, the pools'
 * presence), a hash router between the overview and one conversation, and
 * the "new run" form.
 *
 * @module
 */
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { html } from "./html.ts";
import { openStream } from "./api.ts";
import { Overview } from "./overview.ts";
import { ConversationPage } from "./conversation_page.ts";
import { NewRun, type Workers, workersNote } from "./new_run.ts";
import type { ConversationCard } from "../conversation_card.ts";

function _route(): { view: "overview" } | { view: "conversation"; id: string } {
  const match = /^#\/c\/(.+)$/.exec(location.hash);
  return match ? { view: "conversation", id: decodeURIComponent(match[1]!) } : { view: "overview" };
}

function App() {
  const cards = useRef(new Map<string, ConversationCard>()).current;
  const [, setVersion] = useState(0);
  const [offset, setOffset] = useState(0);
  const [now, setNow] = useState(Date.now());
  const [workers, setWorkers] = useState<Workers>({ managers: 0, agents: 0 });
  const [connected, setConnected] = useState(false);
  const [route, setRoute] = useState(_route());
  const [showForm, setShowForm] = useState(false);
  useEffect(() => {
    const onHash = () => setRoute(_route());
    addEventListener("hashchange", onHash);
    const tick = setInterval(() => setNow(Date.now()), 1000);
    const close = openStream("/api/events", {
      snapshot: (data) => {
        const d = data as { cards: ConversationCard[]; now: number; workers: Workers };
        cards.clear();
        for (const c of d.cards) cards.set(c.id, c);
        setOffset(d.now - Date.now());
        setWorkers(d.workers);
        setVersion((v) => v + 1);
      },
      cards: (data) => {
        const d = data as { cards: ConversationCard[]; now: number };
        for (const c of d.cards) cards.set(c.id, c);
        setOffset(d.now - Date.now());
        setVersion((v) => v + 1);
      },
      workers: (data) => setWorkers(data as Workers),
    }, setConnected);
    return () => {
      close();
      clearInterval(tick);
      removeEventListener("hashchange", onHash);
    };
  }, []);
  const serverNow = now + offset;
  const note = workersNote(workers);
  return html`<div class="app">
    <header class="top">
      <a class="brand" href="#/">DialogueLLM</a>
      <span class=${`conn ${connected ? "up" : "down"}`} data-field="connection">${
    connected ? "live" : "reconnecting…"
  }</span>
      ${
    workers.redis === "down" &&
    html`<span class="conn down" data-field="redis">Redis is unreachable: waiting for it</span>`
  }
      <span class=${`workers ${note ? "none" : "up"}`} data-field="workers">
        ${note ? "no worker up" : `${workers.managers} manager · ${workers.agents} agent pool(s)`}
      </span>
      <button data-action="new-run" onClick=${() => setShowForm(!showForm)}>New run</button>
    </header>
    ${
    showForm &&
    html`<${NewRun} workers=${workers} onStarted=${(id: string) => {
      setShowForm(false);
      location.hash = `#/c/${encodeURIComponent(id)}`;
    }} />`
  }
    ${
    route.view === "overview"
      ? html`<${Overview} cards=${cards} serverNow=${serverNow} />`
      : html`<${ConversationPage} key=${route.id} id=${route.id} serverNow=${serverNow} />`
  }
  </div>`;
}

const root = document.getElementById("app")!;
root.textContent = ""; // the "loading" line of the HTML shell
render(html`<${App} />`, root);

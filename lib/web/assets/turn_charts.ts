/// <reference lib="dom" />
/**
 * Live charts per turn (uPlot): tokens/s, prompt tokens, latency and
 * sentiment, one series per agent, redrawn with the data when a turn lands.
 *
 * @module
 */
import uPlot from "uplot";
import { useEffect, useRef } from "preact/hooks";
import { html } from "./html.ts";
import type { TurnRow } from "../../analysis/run_analysis.ts";

/** Colours of agent 1 and 2: the HTML report's (`AGENT_COLORS` in html_report.ts). */
export const AGENT_STROKES = { 1: "#2563eb", 2: "#c2410c" } as const;

/** The charts and the row field each shows. */
export const TURN_CHARTS = [
  { id: "tokens-per-second", title: "tokens/s", value: (r: TurnRow) => r.tokens_per_second },
  { id: "prompt-tokens", title: "prompt tokens", value: (r: TurnRow) => r.prompt_tokens },
  { id: "latency", title: "latency (ms)", value: (r: TurnRow) => r.latency_ms },
  { id: "sentiment", title: "sentiment", value: (r: TurnRow) => r.sentiment },
] as const;

/** `[turns, agent 1 values, agent 2 values]` for uPlot, null where the other agent spoke. */
export function chartData(
  rows: readonly TurnRow[],
  value: (r: TurnRow) => number | null,
): [number[], (number | null)[], (number | null)[]] {
  const sorted = [...rows].sort((a, b) => a.seq - b.seq);
  return [
    sorted.map((r) => r.seq),
    sorted.map((r) => r.agent === 1 ? value(r) : null),
    sorted.map((r) => r.agent === 2 ? value(r) : null),
  ];
}

function Chart(
  props: { chart: typeof TURN_CHARTS[number]; rows: TurnRow[]; names: [string, string] },
) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    if (!box.current) return;
    const u = new uPlot(
      {
        width: 300,
        height: 140,
        title: props.chart.title,
        scales: { x: { time: false } },
        legend: { show: true },
        series: [
          { label: "turn" },
          {
            label: props.names[0],
            stroke: AGENT_STROKES[1],
            spanGaps: true,
            points: { show: true },
          },
          {
            label: props.names[1],
            stroke: AGENT_STROKES[2],
            spanGaps: true,
            points: { show: true },
          },
        ],
        // Whole turns on the x axis.
        axes: [{ incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] }, { size: 48 }],
      },
      chartData(props.rows, props.chart.value) as uPlot.AlignedData,
      box.current,
    );
    plot.current = u;
    return () => u.destroy();
  }, []);
  useEffect(() => {
    plot.current?.setData(chartData(props.rows, props.chart.value) as uPlot.AlignedData);
  }, [props.rows]);
  return html`<div class="chart" id=${`chart-${props.chart.id}`} ref=${box}></div>`;
}

/** The four charts. */
export function TurnCharts(props: { rows: TurnRow[]; names: [string, string] }) {
  return html`<section class="charts">
    ${
    TURN_CHARTS.map((c) =>
      html`<${Chart} key=${c.id} chart=${c} rows=${props.rows} names=${props.names} />`
    )
  }
  </section>`;
}

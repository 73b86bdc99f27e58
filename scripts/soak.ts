/**
 * `deno task soak`: many conversations in a row against a private
 * redis-server (AOF, fsync always) and the Ollama double, with faults thrown
 * in at random — an agent killed mid-generation (then replaced) in some runs,
 * Redis killed and restarted in others — then a summary of what the streams
 * hold: runs completed, turns lost or duplicated, dead letters, crashes.
 *
 * Not part of `deno task test`: it takes minutes. Exit code 0 when every run
 * completed with nothing lost, duplicated or crashed; 1 otherwise.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { agentForTurn } from "../lib/model/dialog_message.ts";
import {
  FaultRig,
  hasStackTrace,
  newTestId,
  type Proc,
  readTurnLog,
} from "../tests/helpers/fault_rig.ts";

/** `deno task soak --help`. */
export const SOAK_HELP = `Usage: deno task soak [--runs N] [--turns N] [--seed N]

Runs N conversations (manager and two agents as processes) against a private
redis-server with AOF and the Ollama test double. At random, a run gets no
fault, an agent SIGKILLed mid-generation and replaced, or Redis killed and
restarted; then prints runs completed, turns lost and duplicated,
dead-lettered entries, crashes and the total time.

Options:
  --runs N     conversations to run [20]
  --turns N    turns per conversation (max_turns) [6]
  --seed N     seed of the random choices [time-based]
  -h, --help   show this help`;

type FaultKind = "none" | "agent SIGKILL" | "redis restart";
const KINDS: FaultKind[] = ["none", "agent SIGKILL", "redis restart"];

/** What one run left behind. */
interface RunResult {
  kind: FaultKind;
  id: string;
  status: string;
  turns: number;
  lost: number;
  duplicated: number;
  deadLettered: number;
  crashes: string[];
  seconds: number;
  detail: string;
}

/** Small seeded PRNG (mulberry32) so a run can be replayed with --seed. */
function _random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const _sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function _oneRun(
  rig: FaultRig,
  index: number,
  turns: number,
  random: () => number,
): Promise<RunResult> {
  const started = performance.now();
  const kind = KINDS[Math.floor(random() * KINDS.length)]!;
  const id = newTestId(`soak-${index + 1}`);
  const { manager, agent1, agent2 } = await rig.trio(id, ["--max-turns", String(turns)]);
  const expectZero: Proc[] = [manager, agent1, agent2];
  let detail = "";
  if (kind !== "none") {
    // Strike while turn `at` is being generated, a random moment into it.
    const at = 1 + Math.floor(random() * Math.max(1, turns - 1));
    try {
      await rig.waitForTokens(id, at, 30_000);
      await _sleep(Math.floor(random() * 600));
      if (kind === "agent SIGKILL") {
        const slot = agentForTurn(at);
        const victim = slot === 1 ? agent1 : agent2;
        victim.kill("SIGKILL");
        await victim.done;
        expectZero.splice(expectZero.indexOf(victim), 1);
        await _sleep(Math.floor(random() * 1000));
        expectZero.push(await rig.agent(id, slot, `agent ${slot} (replacement)`));
        detail = `killed agent ${slot} in turn ${at}`;
      } else {
        const downMs = 300 + Math.floor(random() * 1200);
        await rig.redisServer.kill();
        await _sleep(downMs);
        await rig.redisServer.restart();
        detail = `Redis down ${downMs} ms in turn ${at}`;
      }
    } catch (error) {
      detail = `fault not injected: ${(error as Error).message.split("\n")[0]}`;
    }
  }
  const crashes: string[] = [];
  for (const proc of expectZero) {
    try {
      const code = await proc.wait(proc === manager ? 90_000 : 20_000);
      if (code !== 0) crashes.push(`${proc.name} exited ${code}`);
    } catch {
      crashes.push(`${proc.name} hung (killed)`);
    }
    if (hasStackTrace(proc.stderr())) crashes.push(`${proc.name} printed a stack trace`);
  }
  const meta = await rig.store.get(id);
  const log = await readTurnLog(rig.redis, id);
  // A completed run must hold turns 1..max_turns; any run, every turn it counted.
  const expected = meta?.status === "completed" ? turns : Math.max(meta?.turns ?? 0, 0);
  const have = new Set(log.responses);
  let lost = log.lost.length;
  const top = Math.max(0, ...log.responses);
  for (let seq = top + 1; seq <= expected; seq++) if (!have.has(seq)) lost++;
  for (const crash of crashes) {
    const proc = rig.procs.find((p) => crash.startsWith(p.name));
    if (proc) console.error(proc.describe());
  }
  return {
    kind,
    id,
    status: meta ? `${meta.status}${meta.stop_reason ? ` (${meta.stop_reason})` : ""}` : "missing",
    turns: meta?.turns ?? 0,
    lost,
    duplicated: log.duplicated.length,
    deadLettered: log.deadLettered,
    crashes,
    seconds: (performance.now() - started) / 1000,
    detail,
  };
}

function _table(results: RunResult[], totalSeconds: number): string {
  const header = ["fault", "runs", "completed", "lost", "duplicated", "dead-lettered", "crashes"];
  const rows: string[][] = [];
  const line = (label: string, list: RunResult[]) => [
    label,
    String(list.length),
    String(list.filter((r) => r.status === "completed (max_turns)").length),
    String(list.reduce((n, r) => n + r.lost, 0)),
    String(list.reduce((n, r) => n + r.duplicated, 0)),
    String(list.reduce((n, r) => n + r.deadLettered, 0)),
    String(list.reduce((n, r) => n + r.crashes.length, 0)),
  ];
  for (const kind of KINDS) rows.push(line(kind, results.filter((r) => r.kind === kind)));
  rows.push(line("total", results));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: string[]) =>
    cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join("  ");
  return [
    format(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.slice(0, -1).map(format),
    widths.map((w) => "-".repeat(w)).join("  "),
    format(rows.at(-1)!),
    "",
    `total time ${totalSeconds.toFixed(1)} s`,
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string", default: "20" },
      turns: { type: "string", default: "6" },
      seed: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(SOAK_HELP);
    Deno.exit(0);
  }
  const runs = Number(values.runs);
  const turns = Number(values.turns);
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
  for (const [name, value, min] of [["runs", runs, 1], ["turns", turns, 2], ["seed", seed, 0]]) {
    if (!Number.isInteger(value) || (value as number) < (min as number)) {
      console.error(`Invalid --${name} ${JSON.stringify(value)}: expected a whole number ≥ ${min}`);
      Deno.exit(2);
    }
  }
  const random = _random(seed);
  const rig = await FaultRig.start({
    aof: true,
    tokenDelayMs: 25,
    wordsPerReply: 20,
    config: {
      redis: { max_unavailable_seconds: 10 },
      ollama: { request_timeout_ms: 15_000 },
    },
  });
  const started = performance.now();
  const results: RunResult[] = [];
  console.log(`soak: ${runs} runs of ${turns} turns, seed ${seed}, Redis ${rig.redisServer.url}`);
  try {
    for (let i = 0; i < runs; i++) {
      const result = await _oneRun(rig, i, turns, random);
      results.push(result);
      const problems = [
        result.lost && `${result.lost} lost`,
        result.duplicated && `${result.duplicated} duplicated`,
        result.deadLettered && `${result.deadLettered} dead-lettered`,
        ...result.crashes,
      ].filter(Boolean).join(", ");
      console.log(
        `${String(i + 1).padStart(3)}. ${result.kind.padEnd(13)} ${result.status.padEnd(22)} ` +
          `${result.turns} turns ${result.seconds.toFixed(1).padStart(5)} s` +
          (result.detail ? `  ${result.detail}` : "") + (problems ? `  !! ${problems}` : ""),
      );
    }
  } finally {
    await rig.close();
  }
  console.log("");
  console.log(_table(results, (performance.now() - started) / 1000));
  const bad = results.some((r) =>
    r.status !== "completed (max_turns)" || r.lost || r.duplicated || r.crashes.length
  );
  Deno.exit(bad ? 1 : 0);
}

/**
 * CPU time of a run's processes by role (model host, agent pool, manager
 * pool, chat), sampled while it runs, so the bench can say what the
 * pipeline's own processes cost per turn next to the model. Read through
 * `ps` as {@linkcode ./process_tree.ts} reads memory (Deno lets a program
 * read `/proc` only with every permission): `%cpu` × elapsed seconds, good
 * to a few per cent.
 *
 * @module
 */

/** What a process of a run is, from its command line. */
export type ProcessRole = "model host" | "agent pool" | "manager pool" | "chat" | "other";

/** One sample: epoch ms and the CPU milliseconds of every process of the tree. */
interface _Sample {
  at: number;
  cpu: Map<number, { role: ProcessRole; ms: number }>;
}

function _role(args: string): ProcessRole {
  if (/model_host\.ts/.test(args)) return "model host";
  if (/\bagent\.ts\b/.test(args)) return "agent pool";
  if (/\bmanager\.ts\b/.test(args)) return "manager pool";
  if (/\bmain\.ts\b/.test(args)) return "chat";
  return "other";
}

async function _sample(root: number): Promise<_Sample> {
  const at = Date.now();
  const { stdout } = await new Deno.Command("ps", {
    args: ["-e", "-o", "pid=,ppid=,etimes=,pcpu=,args="],
    stdout: "piped",
    stderr: "null",
  }).output();
  const all = new TextDecoder().decode(stdout).split("\n").flatMap((line) => {
    const match = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(.*)$/.exec(line);
    if (!match) return [];
    const [, pid, ppid, seconds, percent, args] = match;
    return [{
      pid: Number(pid),
      ppid: Number(ppid),
      ms: (Number(percent) / 100) * Number(seconds) * 1000,
      role: _role(args!),
    }];
  });
  const tree = all.filter((p) => p.pid === root);
  for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i]!.pid));
  return { at, cpu: new Map(tree.map((p) => [p.pid, { role: p.role, ms: p.ms }])) };
}

/** Samples the CPU time of the tree under `root` until stopped. */
export class TreeCpuSampler {
  readonly #samples: _Sample[] = [];
  #stopped = false;
  readonly #loop: Promise<void>;

  /** Starts sampling at once, every `intervalMs`. */
  constructor(root: number, intervalMs = 1000) {
    this.#loop = (async () => {
      while (!this.#stopped) {
        this.#samples.push(await _sample(root));
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  /** Stops sampling once the sample in progress is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /**
   * The share of a core each role used between epoch ms `from` and `to`
   * (between the first sample at or after `from` and the last at or before
   * `to`); undefined when fewer than two samples fall in the window.
   */
  between(from: number, to: number): Partial<Record<ProcessRole, number>> | undefined {
    const first = this.#samples.find((s) => s.at >= from);
    const last = this.#samples.findLast((s) => s.at <= to);
    if (!first || !last || last.at <= first.at) return undefined;
    const used: Partial<Record<ProcessRole, number>> = {};
    for (const [pid, { role, ms }] of last.cpu) {
      const start = first.cpu.get(pid)?.ms ?? 0;
      used[role] = (used[role] ?? 0) + Math.max(0, ms - start) / (last.at - first.at);
    }
    return used;
  }
}

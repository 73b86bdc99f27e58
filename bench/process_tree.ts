/**
 * How many processes a run costs and how much memory they hold: the
 * descendants of a process and the sum of their resident set sizes
 * (`VmRSS`), sampled while the run goes on. Read through `ps` (procps reads
 * `/proc/<pid>/stat` and `status`), because Deno lets a program read `/proc`
 * only with every permission granted.
 *
 * @module
 */

/** One process as `ps` lists it. */
interface _Process {
  pid: number;
  ppid: number;
  /** VmRSS in bytes. */
  rss: number;
}

/** Every process on the host with its parent and RSS. */
async function _processes(): Promise<_Process[]> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-e", "-o", "pid=,ppid=,rss="],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").flatMap((line) => {
    const [pid, ppid, rss] = line.trim().split(/\s+/).map(Number);
    return pid && ppid !== undefined && rss !== undefined ? [{ pid, ppid, rss: rss * 1024 }] : [];
  });
}

/** `root` and all its live descendants with their RSS (Linux). */
export async function processTree(root: number): Promise<_Process[]> {
  const all = await _processes();
  const tree = all.filter((p) => p.pid === root);
  for (let i = 0; i < tree.length; i++) {
    tree.push(...all.filter((p) => p.ppid === tree[i]!.pid));
  }
  return tree.filter((p) => p.rss > 0);
}

/** Samples a process tree every `intervalMs` and keeps the peaks. */
export class TreeSampler {
  /** Largest number of processes seen at once. */
  peakProcesses = 0;
  /** Largest total RSS seen at once, in bytes. */
  peakRssBytes = 0;
  #stopped = false;
  #loop: Promise<void>;

  /** Starts sampling the tree under `root` at once. */
  constructor(root: number, intervalMs = 250) {
    this.#loop = (async () => {
      while (!this.#stopped) {
        const tree = await processTree(root);
        this.peakProcesses = Math.max(this.peakProcesses, tree.length);
        this.peakRssBytes = Math.max(this.peakRssBytes, tree.reduce((sum, p) => sum + p.rss, 0));
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    })();
  }

  /** Stops sampling once the sample in progress is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}

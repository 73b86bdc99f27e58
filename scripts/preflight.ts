/**
 * `deno run scripts/preflight.ts test|chat`: the set-up check a task runs
 * first (lib/cli/preflight.ts). Exits 0 when the task may run, 1 with one
 * line on stderr naming what is missing and the command that installs it.
 *
 * @module
 */
import { runPreflight, TASK_PROGRAMS } from "../lib/cli/preflight.ts";

const task = Deno.args[0] ?? "";
if (!(task in TASK_PROGRAMS)) {
  console.error(
    `Cannot run the preflight check as the task is unknown: current value is ${
      JSON.stringify(task)
    }; pass one of ${Object.keys(TASK_PROGRAMS).join(", ")}`,
  );
  Deno.exit(2);
}
const problem = await runPreflight(task as keyof typeof TASK_PROGRAMS);
if (problem) {
  console.error(problem);
  Deno.exit(1);
}

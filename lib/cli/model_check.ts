/**
 * Before a run: the models it needs present on the backend each role uses
 * (pulled on Ollama when asked; an embedded model file loaded once to prove
 * it loads).
 *
 * @module
 */
import type { Config } from "../config/config.ts";
import { concreteBackend, type Role, roleModel } from "../config/backend_config.ts";
import { BackendSet } from "../llm/backend_factory.ts";

/**
 * Checks that every model the runs need is on its backend, pulling it with a
 * progress bar when `pull` is set (Ollama).
 *
 * @throws {DialogueError} `model_not_found` naming how to get the model.
 */
export async function checkModels(
  config: Config,
  options: { storyFile?: string; resume?: string; pull?: boolean; signal: AbortSignal },
): Promise<void> {
  const roles: Role[] = options.storyFile || options.resume
    ? ["agent1", "agent2"]
    : ["manager", "agent1", "agent2"];
  const backends = new BackendSet(config);
  const checked = new Set<string>();
  try {
    for (const role of roles) {
      const backend = backends.forRole(role, concreteBackend(config, role));
      const model = roleModel(config, role);
      const key = `${backend.kind}|${backend.description}|${model}`;
      if (checked.has(key)) continue;
      checked.add(key);
      await backend.ensureModel(model, {
        pull: options.pull ?? false,
        signal: options.signal,
        onProgress: _progressBar(model),
      });
    }
  } finally {
    await backends.close();
  }
}

function _progressBar(model: string) {
  let last = "";
  return (status: string, fraction?: number) => {
    const bar = fraction === undefined
      ? status
      : `${"█".repeat(Math.round(fraction * 30)).padEnd(30, "░")} ${(fraction * 100).toFixed(0)}%`;
    const line = `pulling ${model}: ${bar}`;
    if (line === last) return;
    last = line;
    Deno.stderr.writeSync(new TextEncoder().encode(`\r${line.padEnd(70)}`));
    if (status === "success") Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  };
}

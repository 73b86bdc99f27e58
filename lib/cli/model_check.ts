/**
 * Before a run: the models it needs, per Ollama host, present (or pulled).
 *
 * @module
 */
import { agentHost, agentModel, type Config } from "../config/config.ts";
import { ollamaBackendFor } from "../llm/ollama_backend.ts";

/**
 * Checks that every model the runs need is on its Ollama host, pulling it
 * with a progress bar when `pull` is set.
 *
 * @throws {DialogueError} `model_not_found` naming the `ollama pull` command.
 */
export async function checkModels(
  config: Config,
  options: { storyFile?: string; resume?: string; pull?: boolean; signal: AbortSignal },
): Promise<void> {
  const wanted = new Map<string, Set<string>>();
  const add = (host: string, model: string) =>
    wanted.set(host, (wanted.get(host) ?? new Set()).add(model));
  if (!options.storyFile && !options.resume) {
    add(config.manager.host ?? config.ollama.host, config.manager.model);
  }
  for (const agent of [1, 2] as const) add(agentHost(config, agent), agentModel(config, agent));
  for (const [host, models] of wanted) {
    const backend = ollamaBackendFor(config.ollama, host);
    for (const model of models) {
      await backend.ensureModel(model, {
        pull: options.pull ?? false,
        signal: options.signal,
        onProgress: _progressBar(model),
      });
    }
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

/**
 * What each agent of a finished pipeline run sent to its backend, rebuilt
 * from Redis with the agent's own prompt builder: the persona as the system
 * prompt, the history before the turn (bounded as the agent bounds it) and
 * the turn's temperature, seed and reply budget. Replayed by the direct
 * driver, so the floor generates the same prompts with the same sampling.
 *
 * @module
 */
import { buildAgentChat } from "../lib/agent/agent_chat.ts";
import { agentForTurn } from "../lib/model/dialog_message.ts";
import type { DirectCall } from "./direct_run.ts";
import type { PipelineConversation } from "./embedded_pipeline.ts";

/**
 * One call per accepted turn of `conversation`, in turn order. The seed is
 * the one of the attempt that was accepted (`generation.seed + seq × 10 +
 * attempt`, as the agent derives it).
 */
export function replayCalls(conversation: PipelineConversation): DirectCall[] {
  const { settings, turns } = conversation;
  return turns.map((turn, index): DirectCall => {
    const agent = turn.message.metadata.agent_id ?? agentForTurn(turn.seq);
    const history = turns.slice(0, index).map((t) => t.message);
    const messages = buildAgentChat({
      agent,
      scenario: conversation.scenario,
      history,
      unread: Math.max(0, turn.seq - 1 - history.length),
      output: settings.agents.output,
      maxMessages: settings.conversation.history_messages,
      maxChars: settings.conversation.history_chars,
      templates: {
        agent_system: _text(settings.prompts.agent_system),
        first_turn: _text(settings.prompts.first_turn),
      },
    });
    const attempt = turn.message.metadata.attempts ?? 1;
    const seed = settings.generation.seed;
    return {
      seq: turn.seq,
      agent,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      temperature: settings.agents[agent === 1 ? "agent1" : "agent2"].temperature ??
        settings.generation.temperature,
      ...(seed !== undefined ? { seed: seed + turn.seq * 10 + attempt } : {}),
      maxTokens: settings.conversation.max_reply_tokens,
      contextTokens: settings.generation.num_ctx,
    };
  });
}

function _text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

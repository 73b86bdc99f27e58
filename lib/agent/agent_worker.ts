/**
 * An agent process's work: take requests for one slot from its stream,
 * generate the persona's reply, publish tokens live, write the response with
 * its metrics, and only then acknowledge the request.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { agentTemperature, type Config } from "../config/config.ts";
import { CONTROL_CANCEL, endRun } from "../manager/run_ending.ts";
import { type ConversationMeta, FINISHED_STATUSES } from "../model/conversation_meta.ts";
import { ConversationStore } from "../bus/conversation_store.ts";
import type { AgentId, DialogMessage } from "../model/dialog_message.ts";
import { DialogueError, ErrorCode } from "../base/dialogue_error.ts";
import { AGENT_GROUP, consumerName, conversationKeys } from "../bus/keys.ts";
import type { ChatResult, LlmBackend } from "../llm/llm_backend.ts";
import { publishLive } from "../bus/live_feed.ts";
import type { LiveEvent } from "../model/live_event.ts";
import { buildAgentChat } from "./agent_chat.ts";
import { JsonFieldStream } from "./json_field_stream.ts";
import { log } from "../base/logger.ts";
import type { StreamEntry } from "../bus/stream_entry.ts";
import { StreamQueue } from "../bus/stream_queue.ts";
import { OutageGuard } from "../bus/redis_outage.ts";
import { parseReply, REPLY_JSON_SCHEMA, replyMessage } from "./agent_reply.ts";
import { backoffDelay, sleep } from "../base/backoff.ts";

/** Inputs of {@linkcode runAgent}. */
export interface RunAgentOptions {
  config: Config;
  agent: AgentId;
  conversationId: string;
  /** Connection for ordinary commands. */
  redis: Redis;
  /** Dedicated connection for blocking reads. */
  blocking: Redis;
  /** Dedicated connection for the control channel (pub/sub mode). */
  subscriber: Redis;
  backend: LlmBackend;
  /** Shutdown: the current generation is abandoned and left unacknowledged. */
  signal: AbortSignal;
}

/** Serves one agent slot of a conversation until the conversation ends. */
export async function runAgent(options: RunAgentOptions): Promise<{ turns: number }> {
  const { redis, agent, conversationId: id, signal } = options;
  const keys = conversationKeys(id);
  const store = new ConversationStore(redis);
  await store.waitFor(id, { signal });
  // An interrupted run may be about to be resumed: wait for it rather than exit.
  await store.waitWhileInterrupted(id, signal);
  const claimIdleMs = options.config.conversation.claim_idle_seconds * 1000;
  const queue = new StreamQueue(redis, options.blocking, {
    group: AGENT_GROUP,
    consumer: consumerName(`agent-${agent}`),
    deadLetter: keys.deadLetter,
    claimIdleMs,
  });
  await queue.ensureGroup([keys.requests(agent)]);
  const current = { controller: undefined as AbortController | undefined };
  await options.subscriber.subscribe(keys.control);
  options.subscriber.on("message", (_channel: string, message: string) => {
    if (message === CONTROL_CANCEL) current.controller?.abort();
  });
  const guard = new OutageGuard(options.config.redis, [redis, options.blocking], {
    onRecover: () => queue.recover(),
    signal,
  });
  let turns = 0;
  const step = async (): Promise<boolean> => {
    const meta = await store.require(id);
    if (FINISHED_STATUSES.includes(meta.status)) return false;
    let entries: StreamEntry[];
    try {
      entries = await queue.read([keys.requests(agent)], { count: 1, blockMs: 1000 });
    } catch (error) {
      if (signal.aborted) return false;
      throw error;
    }
    for (const entry of entries) {
      current.controller = new AbortController();
      const served = await _serve(options, store, queue, entry, {
        cancel: current.controller.signal,
        heartbeatMs: claimIdleMs / 3,
      });
      if (served) turns++;
    }
    return true;
  };
  while (!signal.aborted && await guard.run(step));
  return { turns };
}

/** Handles one request; true when a response was written. */
async function _serve(
  options: RunAgentOptions,
  store: ConversationStore,
  queue: StreamQueue,
  entry: StreamEntry,
  { cancel, heartbeatMs }: { cancel: AbortSignal; heartbeatMs: number },
): Promise<boolean> {
  const { redis, agent, conversationId: id } = options;
  const keys = conversationKeys(id);
  const seq = entry.message.metadata.sequence_number;
  const meta = await store.require(id);
  const alreadyAnswered = await redis.hexists(keys.answered, String(seq));
  const deadline = meta.deadline ?? Number.POSITIVE_INFINITY;
  if (meta.status === "interrupted" && !alreadyAnswered) {
    // Routed just before an interrupt: keep it for the resumed run.
    await queue.release(entry);
    return false;
  }
  if (alreadyAnswered || FINISHED_STATUSES.includes(meta.status) || Date.now() >= deadline) {
    await queue.ack(entry);
    return false;
  }
  const model = agent === 1 ? meta.models.agent1 : meta.models.agent2;
  const live = _liveChain(redis, id);
  live.publish({ type: "turn_start", seq, agent, model, at: Date.now() });
  // Keep the request visibly alive so no other agent claims it mid-generation.
  const heartbeat = setInterval(() => queue.touch(entry).catch(() => {}), heartbeatMs);
  let outcome: Outcome;
  try {
    outcome = await _generate(options, meta, entry.message, {
      model,
      cancel,
      onText: (text) => live.publish({ type: "token", seq, agent, text }),
      onRetry: (reason) => live.publish({ type: "turn_abandoned", seq, agent, reason }),
    });
  } finally {
    clearInterval(heartbeat);
  }
  if (outcome.kind === "reply") {
    const { id: messageId } = await queue.addOnce(keys.responses(agent), outcome.message, {
      key: keys.answered,
      field: String(seq),
    });
    live.publish({ type: "turn_end", seq, agent, message_id: outcome.message.message_id });
    await live.done();
    await queue.ack(entry);
    log("agent").debug("Agent {agent} answered turn {seq} as {messageId}", {
      agent,
      seq,
      messageId,
    });
    return true;
  }
  live.publish({ type: "turn_abandoned", seq, agent, reason: outcome.reason });
  await live.done();
  const resumable = outcome.kind === "stopping" ||
    (outcome.kind === "cancelled" && (await store.require(id)).status === "interrupted");
  if (resumable) {
    // Unfinished work stays pending, released so that the next agent (after a
    // resume, or another process for this slot) takes it at once.
    await queue.release(entry);
    return false;
  }
  if (outcome.kind === "fatal") {
    await endRun(redis, id, {
      status: "failed",
      reason: "error",
      detail: outcome.reason,
      retentionSeconds: options.config.retention.seconds,
    });
    log("agent").error("{reason}", { reason: outcome.reason });
  }
  await queue.ack(entry);
  return false;
}

type Outcome =
  | { kind: "reply"; message: DialogMessage }
  | { kind: "stopping"; reason: string }
  | { kind: "cancelled"; reason: string }
  | { kind: "fatal"; reason: string };

interface GenerateHooks {
  model: string;
  cancel: AbortSignal;
  onText: (text: string) => void;
  onRetry: (reason: string) => void;
}

async function _generate(
  options: RunAgentOptions,
  meta: ConversationMeta,
  request: DialogMessage,
  hooks: GenerateHooks,
): Promise<Outcome> {
  const { config, agent } = options;
  const seq = request.metadata.sequence_number;
  const history = await new ConversationStore(options.redis).responsesBefore(meta.id, seq);
  const messages = buildAgentChat({
    agent,
    scenario: meta.scenario!,
    history,
    output: config.agents.output,
    maxMessages: config.conversation.history_messages,
    maxChars: config.conversation.history_chars,
    templates: {
      agent_system: config.prompts.agent_system as string | undefined,
      first_turn: config.prompts.first_turn as string | undefined,
    },
  });
  const deadlineMs = (meta.deadline ?? Date.now() + 86_400_000) - Date.now();
  const signal = AbortSignal.any([
    options.signal,
    hooks.cancel,
    AbortSignal.timeout(Math.max(1, deadlineMs)),
  ]);
  const json = config.agents.output === "json";
  let problem = "";
  for (let attempt = 1; attempt <= config.agents.max_attempts; attempt++) {
    const field = json ? new JsonFieldStream("message") : undefined;
    let result: ChatResult;
    try {
      result = await options.backend.chat({
        model: hooks.model,
        messages,
        ...(json ? { format: REPLY_JSON_SCHEMA } : {}),
        temperature: agentTemperature(config, agent),
        numCtx: config.generation.num_ctx,
        numPredict: config.conversation.max_reply_tokens,
        keepAlive: config.ollama.keep_alive,
        ...(config.generation.seed !== undefined
          ? { seed: config.generation.seed + seq * 10 + attempt }
          : {}),
      }, {
        signal,
        onToken: (piece) => {
          const text = field ? field.push(piece) : piece;
          if (text) hooks.onText(text);
        },
      });
    } catch (error) {
      if (!(error instanceof DialogueError)) throw error;
      if (options.signal.aborted) return { kind: "stopping", reason: "agent stopping" };
      if (error.code === ErrorCode.Aborted) {
        const why = hooks.cancel.aborted ? "run ended" : "deadline reached";
        return { kind: "cancelled", reason: why };
      }
      if (error.code !== ErrorCode.LlmTransient && error.code !== ErrorCode.InvalidOutput) {
        return { kind: "fatal", reason: error.message };
      }
      problem = error.message;
      hooks.onRetry(`${problem}; retrying`);
      await sleep(backoffDelay(attempt), signal);
      continue;
    }
    const reply = parseReply(result, json);
    if (reply.ok) {
      return {
        kind: "reply",
        message: replyMessage(request, {
          agent: options.agent,
          model: hooks.model,
          result,
          reply: reply.content,
        }),
      };
    }
    problem = reply.problem;
    hooks.onRetry(`invalid reply (${problem}); retrying`);
  }
  return {
    kind: "fatal",
    reason:
      `Agent ${agent} (${hooks.model}) gave no valid reply for turn ${seq} in ${config.agents.max_attempts} attempts (last: ${problem}): try another model, set agents.output to "text", or raise agents.max_attempts`,
  };
}

/** Publishes live events in order without making the token callback wait. */
function _liveChain(redis: Redis, id: string) {
  let chain = Promise.resolve();
  let warned = false;
  return {
    publish(event: LiveEvent) {
      chain = chain.then(() => publishLive(redis, id, event)).catch((error) => {
        // Live events are best effort (the response stream is the record):
        // say so once per turn, not once per token.
        if (warned) return;
        warned = true;
        log("agent").warn("Cannot publish live events: {error}", { error: String(error) });
      });
    },
    done: () => chain,
  };
}

/**
 * The ways a real Ollama fails, as the test double plays them: an error
 * status before any output, an error line mid-stream, a cut connection, a
 * stream without `done`, a hang, a reply cut by the length limit, output that
 * breaks the schema, given content, slow tokens.
 *
 * @module
 */
import { errorResponse } from "./wire.ts";

/**
 * A failure the double plays on the next `/api/chat` request. `afterChunks`
 * counts content chunks sent before the failure.
 */
export type Fault =
  | { kind: "status"; status: 404 | 400 | 500 | 503; error?: string }
  | { kind: "error_mid_stream"; afterChunks: number; error?: string }
  | { kind: "cut_connection"; afterChunks: number }
  | { kind: "no_done"; afterChunks: number }
  | { kind: "hang" }
  | { kind: "length"; afterChunks: number }
  | { kind: "invalid_schema" }
  | { kind: "text"; content: string }
  | { kind: "slow"; tokenDelayMs: number };

/** How a streamed reply ends: the `done` object, an error line, a cut TCP connection, or nothing. */
export type Ending = "done" | "error" | "cut" | "none";

/** What a fault leaves of a reply. */
export interface FaultedReply {
  /** Content pieces still sent. */
  tokens: string[];
  /** `length` when the fault cut the reply as the length limit would. */
  doneReason?: "length";
  ending: Ending;
  /** The message of an `error` ending. */
  error: string;
}

const _DEFAULT_ERRORS: Record<number, string> = {
  400: "invalid options",
  500: "llama runner process has terminated: exit status 2",
  503: "server busy, please try again.  maximum pending requests exceeded",
};
const _MID_STREAM_ERROR = "an error was encountered while running the model: unexpected EOF";

/** The response a `status` fault answers with, Ollama's wording unless the fault gives one. */
export function statusFaultResponse(
  fault: Extract<Fault, { kind: "status" }>,
  model: unknown,
): Response {
  const message = fault.error ??
    (fault.status === 404
      ? `model '${String(model ?? "")}' not found`
      : _DEFAULT_ERRORS[fault.status]);
  return errorResponse(fault.status, message ?? "error");
}

/**
 * Cuts `tokens` (the reply, already limited by `num_predict`) where a
 * mid-reply fault strikes. A `length` fault on structured output always drops
 * at least the last piece, so the JSON is truncated as a real cut leaves it.
 *
 * @param all Every piece of the full reply.
 */
export function applyFault(
  tokens: string[],
  all: string[],
  fault: Fault | undefined,
  structured: boolean,
): FaultedReply {
  const error = (fault?.kind === "error_mid_stream" ? fault.error : undefined) ??
    _MID_STREAM_ERROR;
  if (fault === undefined || !("afterChunks" in fault)) return { tokens, ending: "done", error };
  const cap = fault.kind === "length" && structured ? all.length - 1 : all.length;
  const kept = tokens.slice(0, Math.max(0, Math.min(fault.afterChunks, cap)));
  switch (fault.kind) {
    case "length":
      return { tokens: kept, doneReason: "length", ending: "done", error };
    case "error_mid_stream":
      return { tokens: kept, ending: "error", error };
    case "cut_connection":
      return { tokens: kept, ending: "cut", error };
    case "no_done":
      return { tokens: kept, ending: "none", error };
  }
}

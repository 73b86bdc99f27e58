/**
 * The stream entry format: a message as stream fields (the JSON in `data`,
 * plus `seq` and `role` for people reading with redis-cli), decoded strictly
 * (UTF-8, JSON, schema) so that anything else can be dead-lettered.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { DialogMessage } from "../model/dialog_message.ts";

/** An entry read from a stream, validated. */
export interface StreamEntry {
  stream: string;
  id: string;
  message: DialogMessage;
}

const DATA_FIELD = "data";

/** Encodes a message as stream fields: the JSON plus a few fields for humans. */
export function encodeEntry(message: DialogMessage): string[] {
  const validated = DialogMessage.parse(message);
  return [
    "seq",
    String(validated.metadata.sequence_number),
    "role",
    validated.role,
    DATA_FIELD,
    JSON.stringify({ ...validated, metadata: _compactMetadata(validated.metadata) }),
  ];
}

/**
 * The metadata as stored: figures that are 0 are left out (the schema's
 * defaults bring them back on decoding) and fractions are kept to 0.1 µs,
 * so a stored message costs little more than its content.
 */
function _compactMetadata(metadata: DialogMessage["metadata"]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (value === 0 && key !== "sequence_number") continue;
    out[key] = typeof value === "number" && !Number.isInteger(value)
      ? Math.round(value * 10_000) / 10_000
      : value;
  }
  return out;
}

/**
 * Decodes stream fields into a message.
 *
 * @throws {Error} with a reason fit for the dead-letter stream.
 */
export function decodeEntry(fields: string[]): DialogMessage {
  const index = fields.findIndex((f, i) => i % 2 === 0 && f === DATA_FIELD);
  if (index < 0) throw new Error(`no '${DATA_FIELD}' field`);
  let raw: unknown;
  try {
    raw = JSON.parse(fields[index + 1] ?? "");
  } catch (error) {
    throw new Error(`'${DATA_FIELD}' is not JSON: ${(error as Error).message}`);
  }
  const result = DialogMessage.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${issue.path.join(".") || "entry"}: ${issue.message}`);
  }
  return result.data;
}

const _strict = new TextDecoder("utf-8", { fatal: true });
/** Decodes bytes as UTF-8, replacing what is invalid (for logs and dead letters). */
export const LOSSY_UTF8 = new TextDecoder("utf-8");

/** Raw field bytes as ioredis' Buffer commands return them. */
export type RawFields = Uint8Array[];

/**
 * Decodes raw stream fields as UTF-8.
 *
 * @throws {Error} naming the first field that is not valid UTF-8.
 */
export function decodeFields(fields: RawFields): string[] {
  return fields.map((bytes, i) => {
    try {
      return _strict.decode(bytes);
    } catch {
      const name = i % 2 === 0 ? `#${i}` : `'${LOSSY_UTF8.decode(fields[i - 1]!)}'`;
      throw new Error(`field ${name} is not valid UTF-8`);
    }
  });
}

/** Reads all entries of a stream (oldest first), skipping invalid ones. */
export async function readWholeStream(
  redis: Redis,
  stream: string,
): Promise<StreamEntry[]> {
  const raw = await redis.xrangeBuffer(stream, "-", "+");
  const out: StreamEntry[] = [];
  for (const [id, fields] of raw) {
    try {
      out.push({ stream, id: id.toString(), message: decodeEntry(decodeFields(fields)) });
    } catch {
      // Invalid entries are dead-lettered by the consumers; readers skip them.
    }
  }
  return out;
}

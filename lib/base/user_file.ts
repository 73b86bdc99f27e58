/**
 * Reading a file the user named (`--config`, `--story`, `prompts.*.file`,
 * `redis.ca_file`) without letting the path hurt the process: only regular
 * files, checked before they are opened (a FIFO would block the open, a
 * device such as `/dev/zero` never ends), read no further than a size cap,
 * decoded as strict UTF-8. Every refusal is a one-line usage error naming
 * the file, why and where the path came from.
 *
 * @module
 */
import { DialogueError, ErrorCode } from "./dialogue_error.ts";

/** Cap for a user-named file unless the caller sets another: 1 MiB. */
export const USER_FILE_MAX_BYTES = 1024 * 1024;

/** What a user-named file is and where its path came from, for messages. */
export interface ReadUserFileOptions {
  /** What the file is, e.g. `"story file"`, `"config file"`. */
  what: string;
  /** Where the path was given, e.g. `"--story"`, `"redis.ca_file"`; messages say to check it. */
  source: string;
  /** Largest file accepted, in bytes. @default {USER_FILE_MAX_BYTES} (1 MiB) */
  maxBytes?: number;
}

/**
 * Reads a user-named regular file as UTF-8 text, up to a size cap.
 *
 * @throws {DialogueError} `usage` when the path is missing, not a regular
 * file (directory, device, FIFO, socket), unreadable, over the cap or not UTF-8.
 *
 * @example Read a story file named by a flag
 * ```ts ignore
 * const text = await readUserFile("story.json", { what: "story file", source: "--story" });
 * ```
 */
export async function readUserFile(path: string, options: ReadUserFileOptions): Promise<string> {
  const max = options.maxBytes ?? USER_FILE_MAX_BYTES;
  let file: Deno.FsFile | undefined;
  try {
    _checkInfo(path, await Deno.stat(path), max, options);
    file = await Deno.open(path, { read: true });
    // The path may have been swapped between stat and open: check what was opened.
    _checkInfo(path, await file.stat(), max, options);
    const bytes = new Uint8Array(max + 1);
    let length = 0;
    while (length <= max) {
      const n = await file.read(bytes.subarray(length));
      if (n === null) break;
      length += n;
    }
    return _decode(path, bytes.subarray(0, length), max, options);
  } catch (error) {
    throw _asUsage(path, error, options);
  } finally {
    file?.close();
  }
}

/**
 * {@linkcode readUserFile}, synchronously, for code that cannot await
 * (building a Redis client's TLS options).
 *
 * @throws {DialogueError} as {@linkcode readUserFile}.
 */
export function readUserFileSync(path: string, options: ReadUserFileOptions): string {
  const max = options.maxBytes ?? USER_FILE_MAX_BYTES;
  let file: Deno.FsFile | undefined;
  try {
    _checkInfo(path, Deno.statSync(path), max, options);
    file = Deno.openSync(path, { read: true });
    _checkInfo(path, file.statSync(), max, options);
    const bytes = new Uint8Array(max + 1);
    let length = 0;
    while (length <= max) {
      const n = file.readSync(bytes.subarray(length));
      if (n === null) break;
      length += n;
    }
    return _decode(path, bytes.subarray(0, length), max, options);
  } catch (error) {
    throw _asUsage(path, error, options);
  } finally {
    file?.close();
  }
}

/** A refusal already worded for the user; passed through `_asUsage` unchanged. */
class _Refusal extends Error {}

function _checkInfo(
  path: string,
  info: Deno.FileInfo,
  max: number,
  options: ReadUserFileOptions,
): void {
  if (!info.isFile) {
    throw new _Refusal(
      _message(path, `it is ${_kind(info)}, not a regular file`, options),
    );
  }
  // A regular file may still grow after this; the read stops at the cap anyway.
  if (info.size > max) {
    throw new _Refusal(
      _message(path, `it is ${_size(info.size)}, over the ${_size(max)} limit`, options),
    );
  }
}

function _decode(
  path: string,
  bytes: Uint8Array,
  max: number,
  options: ReadUserFileOptions,
): string {
  if (bytes.length > max) {
    throw new _Refusal(_message(path, `it is over the ${_size(max)} limit`, options));
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new _Refusal(_message(path, "it is not UTF-8 text", options));
  }
}

function _asUsage(path: string, error: unknown, options: ReadUserFileOptions): DialogueError {
  if (error instanceof _Refusal) return new DialogueError(ErrorCode.Usage, error.message);
  const why = error instanceof Deno.errors.NotFound
    ? "it does not exist"
    : error instanceof Deno.errors.PermissionDenied
    ? "permission was denied"
    : error instanceof Deno.errors.IsADirectory
    ? "it is a directory, not a regular file"
    : _oneLine(String((error as Error)?.message ?? error));
  return new DialogueError(ErrorCode.Usage, _message(path, why, options), { cause: error });
}

function _message(path: string, why: string, options: ReadUserFileOptions): string {
  return `Cannot read ${options.what} ${path} as ${why}: check ${options.source}`;
}

function _kind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** `1 MiB`, `4.2 MiB`, `512 KiB`, `100 bytes`. */
function _size(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${_trim(bytes / (1024 * 1024))} MiB`;
  if (bytes >= 1024) return `${_trim(bytes / 1024)} KiB`;
  return `${bytes} bytes`;
}

function _trim(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function _oneLine(message: string): string {
  return message.replace(/\s+/g, " ").trim().slice(0, 300);
}

/**
 * readUserFile(): a path the user named is read only when it is a regular
 * file under the cap; everything else is refused at once, in one line that
 * names the file, why, and where the path came from.
 */
import { assert, assertEquals, assertStringIncludes } from "../helpers/assert.ts";
import { readUserFile, readUserFileSync, USER_FILE_MAX_BYTES } from "../../lib/base/user_file.ts";
import { DialogueError, ErrorCode } from "../../lib/base/dialogue_error.ts";

const STORY = { what: "story file", source: "--story" };

/** A fresh temporary folder for one test, removed afterwards. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dialogue_user_file_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function mkfifo(path: string): Promise<void> {
  const { code } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assertEquals(code, 0, "mkfifo failed");
}

/** The usage error `fn` rejects with (fails the test otherwise). */
async function refusal(fn: () => Promise<unknown> | unknown): Promise<DialogueError> {
  try {
    await fn();
  } catch (error) {
    assert(error instanceof DialogueError, `expected a DialogueError, got ${error}`);
    assertEquals(error.code, ErrorCode.Usage);
    assert(!error.message.includes("\n"), `one line expected: ${error.message}`);
    return error;
  }
  throw new Error("expected the read to be refused");
}

Deno.test("readUserFile() returns a regular file's text", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/story.json`, '{"story": "é"}');
    assertEquals(await readUserFile(`${dir}/story.json`, STORY), '{"story": "é"}');
    assertEquals(readUserFileSync(`${dir}/story.json`, STORY), '{"story": "é"}');
  });
});

Deno.test("readUserFile() refuses /dev/zero at once as a character device instead of reading it forever", async () => {
  const started = performance.now();
  const error = await refusal(() => readUserFile("/dev/zero", STORY));
  assert(performance.now() - started < 1000, "refused before reading");
  assertStringIncludes(error.message, "/dev/zero");
  assertStringIncludes(error.message, "character device");
  assertStringIncludes(error.message, "--story");
  await refusal(() => readUserFileSync("/dev/zero", STORY));
});

Deno.test("readUserFile() refuses a FIFO without blocking on it", async () => {
  await withDir(async (dir) => {
    const fifo = `${dir}/pipe`;
    await mkfifo(fifo);
    // Opening a FIFO with no writer blocks forever: the refusal must come first.
    const error = await refusal(() => readUserFile(fifo, STORY));
    assertStringIncludes(error.message, fifo);
    assertStringIncludes(error.message, "FIFO");
    await refusal(() => readUserFileSync(fifo, { what: "CA file", source: "redis.ca_file" }));
  });
});

Deno.test("readUserFile() refuses a file over the cap, naming its size and the limit", async () => {
  await withDir(async (dir) => {
    const big = `${dir}/big.json`;
    await Deno.writeFile(big, new Uint8Array(USER_FILE_MAX_BYTES + 1).fill(0x20));
    const error = await refusal(() => readUserFile(big, STORY));
    assertStringIncludes(error.message, "over the 1 MiB limit");
    assertStringIncludes(error.message, "--story");
    const small = await refusal(() =>
      readUserFile(big, { what: "CA file", source: "redis.ca_file", maxBytes: 1024 })
    );
    assertStringIncludes(small.message, "over the 1 KiB limit");
    assertStringIncludes(small.message, "redis.ca_file");
  });
});

Deno.test("readUserFile() accepts a file of exactly the cap", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/f`, new Uint8Array(100).fill(0x61));
    assertEquals(
      (await readUserFile(`${dir}/f`, { ...STORY, maxBytes: 100 })).length,
      100,
    );
  });
});

Deno.test("readUserFile() names a missing file, a directory and a file that is not UTF-8", async () => {
  await withDir(async (dir) => {
    const missing = await refusal(() =>
      readUserFile(`${dir}/ca.pem`, { what: "CA file", source: "redis.ca_file" })
    );
    assertEquals(
      missing.message,
      `Cannot read CA file ${dir}/ca.pem as it does not exist: check redis.ca_file`,
    );
    const missingSync = await refusal(() =>
      readUserFileSync(`${dir}/ca.pem`, { what: "CA file", source: "redis.ca_file" })
    );
    assertEquals(missingSync.message, missing.message);
    assertStringIncludes((await refusal(() => readUserFile(dir, STORY))).message, "a directory");
    await Deno.writeFile(`${dir}/latin1.json`, new Uint8Array([0x7b, 0xe9, 0x7d]));
    assertStringIncludes(
      (await refusal(() => readUserFile(`${dir}/latin1.json`, STORY))).message,
      "not UTF-8",
    );
  });
});

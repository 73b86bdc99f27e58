/**
 * The tiny real model the embedded-backend tests run (TinyStories 260K,
 * ../shared/models/stories260K.gguf beside the repository). Where it is
 * absent the tests that need it are ignored, with a note saying so: they are
 * never counted as passed.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** Path of the tiny model. */
export const TINY_MODEL = fileURLToPath(
  new URL("../../../../shared/models/stories260K.gguf", import.meta.url),
);

function _missing(): boolean {
  try {
    return !Deno.statSync(TINY_MODEL).isFile;
  } catch {
    return true;
  }
}

/** True when the tiny model is absent: use as `ignore:`. */
export const TINY_MODEL_MISSING = _missing();

if (TINY_MODEL_MISSING) {
  console.warn(
    `NOTE: skipping the embedded-model tests as ${TINY_MODEL} is absent (see ../shared/models/README.md); they did not run`,
  );
}

/**
 * The Ollama test double, where tests have always imported it from; it lives
 * in `lib/testing/ollama/` (server, chat stream, structured output, faults,
 * models, embeddings, and the `deno task fake-ollama` entry).
 *
 * @module
 */
export {
  type Fault,
  OllamaDouble,
  type OllamaDoubleOptions,
  type RecordedRequest,
} from "./ollama/ollama_double.ts";

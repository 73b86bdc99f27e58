/**
 * Deterministic English-like prose: the text the Ollama test double streams
 * back. Everything is seeded, so the same request always gets the same reply.
 *
 * @module
 */

/** FNV-1a over the UTF-16 units of `text`: a 32-bit seed for {@linkcode Prose}. */
export function hashSeed(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const _OPENERS = ["The", "A", "Every", "That", "Our", "One", "This"];
const _ADJECTIVES = [
  "quiet",
  "old",
  "bright",
  "patient",
  "curious",
  "narrow",
  "restless",
  "gentle",
  "crooked",
  "distant",
  "careful",
  "naïve",
  "honest",
  "stubborn",
];
const _NOUNS = [
  "baker",
  "lantern",
  "harbor",
  "captain",
  "letter",
  "garden",
  "river",
  "stranger",
  "window",
  "market",
  "café",
  "promise",
  "bridge",
  "storm",
  "map",
  "fiancée",
  "engine",
  "village",
  "secret",
  "jalapeño",
];
const _VERBS = [
  "carried",
  "found",
  "remembered",
  "followed",
  "painted",
  "answered",
  "guarded",
  "opened",
  "forgot",
  "described",
  "repaired",
  "questioned",
];
const _PREPOSITIONS = ["across", "near", "beyond", "under", "behind", "beside"];
const _ADVERBS = ["slowly", "again", "tonight", "carefully", "at last"];
const _NAMES = [
  "Mara Quinn",
  "Tobias Vale",
  "Inès Moreau",
  "Ravi Anand",
  "Lena Hart",
  "Oskar Lind",
  "Zoë Park",
  "Felix Ortega",
];

/**
 * A seeded source of randomness and of sentences from a small vocabulary.
 * Some words carry non-ASCII letters so replies exercise UTF-8 handling.
 */
export class Prose {
  #state: number;

  /** Starts the sequence at `seed` (any 32-bit number). */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Next number in [0, 1) (mulberry32). */
  random(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  /** A person's name, for fields that hold one. */
  name(): string {
    return this.pick(_NAMES);
  }

  /** One capitalised sentence ending in punctuation, usually 5 to 11 words. */
  sentence(): string {
    const words = [this.pick(_OPENERS)];
    if (this.random() < 0.5) words.push(this.pick(_ADJECTIVES));
    words.push(this.pick(_NOUNS), this.pick(_VERBS));
    words.push(this.random() < 0.5 ? "the" : "a");
    if (this.random() < 0.4) words.push(this.pick(_ADJECTIVES));
    words.push(this.pick(_NOUNS));
    if (this.random() < 0.5) {
      words.push(this.pick(_PREPOSITIONS), "the", this.pick(_NOUNS));
    }
    if (this.random() < 0.25) words.push(this.pick(_ADVERBS));
    const end = this.random() < 0.85 ? "." : this.pick(["!", "?"]);
    return _articles(words).join(" ") + end;
  }

  /** Sentences until about `words` words have been written (at least one). */
  text(words: number): string {
    const sentences = [this.sentence()];
    let count = sentences[0]!.split(" ").length;
    while (count < words) {
      const next = this.sentence();
      sentences.push(next);
      count += next.split(" ").length;
    }
    return sentences.join(" ");
  }
}

/** "a" becomes "an" before a vowel sound. */
function _articles(words: string[]): string[] {
  return words.map((word, i) =>
    /^a$/i.test(word) && /^([aeiou]|hon)/i.test(words[i + 1] ?? "") ? `${word}n` : word
  );
}

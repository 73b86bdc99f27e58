/**
 * Persona break / role flip: a speaker who starts speaking as its partner —
 * naming itself with the partner's name, taking up the partner's goal and
 * voice — or who drops its own persona's markers while picking up the
 * partner's (persona drift, arXiv 2402.10962). Each turn is scored against
 * both personas: lexically (its share of each persona's distinctive words)
 * by default, or by embedding similarity when embeddings are given.
 *
 * @module
 */
import { z } from "zod";
import { contentWords, cosineSimilarity, tokenize } from "./text_similarity.ts";
import { round } from "./stats.ts";
import type { SpokenTurn } from "./echo_detector.ts";

/**
 * A turn leans to the partner lexically when it uses at least this many of
 * the partner's distinctive persona words and more of them than of its own.
 * One or two are chance: speakers discuss each other's plans ("the clock or
 * the bread?" hit "clock" and "begin" of the partner's persona on the
 * labelled set); a turn that takes the partner's goal over uses its words
 * by the handful.
 */
export const PARTNER_MIN_HITS = 3;
/**
 * A turn leans to the partner by embeddings when it is closer to the
 * partner's persona than to its own by at least this much cosine: persona
 * texts of one story are close to each other (~0.6–0.8 with
 * nomic-embed-text), so only a clear margin counts.
 */
export const EMBED_MARGIN = 0.05;
/**
 * Consecutive own turns leaning to the partner (or dropping the own markers)
 * that make a break: one turn quoting the partner's plan is not a flip.
 */
export const PERSONA_RUN = 2;

/**
 * An assistant's voice: the speaker has dropped its persona altogether and
 * talks as the model ("As an AI language model…", "I'm an AI assistant"), a
 * break in one turn since no persona in a story says it. Service phrases
 * ("How can I help you today?") are left out: a shopkeeper persona says them
 * in character.
 */
export const ASSISTANT_VOICE =
  /\b(?:as an ai\b|an ai (?:language )?model|a (?:large )?language model|i'?m an ai\b|i am an ai\b|i am an? (?:virtual |ai )?assistant\b)/iu;

/** The persona fields the detector reads. */
export interface PersonaText {
  name: string;
  background?: string;
  personality?: string;
  speaking_style?: string;
  goal?: string;
}

/** Per-turn consistency against both personas. */
export const PersonaTurn = z.object({
  seq: z.number().int().min(1),
  agent: z.union([z.literal(1), z.literal(2)]),
  /** Similarity to the speaker's own persona (lexical: share of its distinctive words used; embedding: cosine). */
  own: z.number().finite(),
  /** The same against the partner's persona. */
  partner: z.number().finite(),
  /** The turn names the speaker with the partner's name ("I am Mara", "Mara:"). */
  claims_partner_name: z.boolean(),
});
/** Per-turn consistency against both personas. */
export type PersonaTurn = z.infer<typeof PersonaTurn>;

/** What {@linkcode detectPersonaBreak} found. */
export const PersonaBreak = z.object({
  detected: z.boolean(),
  /** How the turns were compared with the personas. */
  method: z.enum(["lexical", "embedding"]),
  /** Which speaker broke first; null when none did. */
  agent: z.union([z.literal(1), z.literal(2)]).nullable(),
  from_turn: z.number().int().min(1).nullable(),
  /**
   * Mean own-minus-partner similarity per speaker (higher: more in
   * character); null for a speaker with no turn, or lexically when the
   * personas have no distinctive words (a file that names them only).
   */
  consistency: z.object({
    "1": z.number().finite().nullable(),
    "2": z.number().finite().nullable(),
  }),
  per_turn: z.array(PersonaTurn),
  evidence: z.string().nullable(),
});
/** What {@linkcode detectPersonaBreak} found. */
export type PersonaBreak = z.infer<typeof PersonaBreak>;

/** Options for {@linkcode detectPersonaBreak}. */
export interface PersonaBreakOptions {
  /** Embeddings of the two personas' texts ({@linkcode personaText}) and of every turn; lexical without. */
  embeddings?: { personas: readonly [number[], number[]]; turns: readonly number[][] } | undefined;
}

/** The text of a persona that turns are compared with: everything but its name. */
export function personaText(p: PersonaText): string {
  return [p.background, p.personality, p.speaking_style, p.goal].filter(Boolean).join("\n");
}

/**
 * Scores each turn against both personas and finds the first speaker that
 * breaks: a turn that claims the partner's name, a turn in an assistant's
 * voice ({@linkcode ASSISTANT_VOICE}: its own persona dropped), or
 * {@linkcode PERSONA_RUN} consecutive own turns that lean to the partner —
 * more of the partner's distinctive words than its own, so its own markers
 * dropped and the partner's taken up (see {@linkcode PARTNER_MIN_HITS},
 * {@linkcode EMBED_MARGIN}).
 *
 * @throws {RangeError} When embeddings do not cover every turn.
 *
 * @example A speaker that starts calling itself by its partner's name
 * ```ts
 * import { strictEqual } from "node:assert/strict";
 * import { detectPersonaBreak } from "./persona_break.ts";
 * const r = detectPersonaBreak([
 *   { agent: 1, text: "The tide charts say we sail at dawn." },
 *   { agent: 2, text: "I am Ada, and the tide charts are mine now." },
 * ], [{ name: "Ada", goal: "sail" }, { name: "Bo", goal: "stay" }]);
 * strictEqual(r.from_turn, 2);
 * ```
 */
export function detectPersonaBreak(
  turns: readonly SpokenTurn[],
  personas: readonly [PersonaText, PersonaText],
  options: PersonaBreakOptions = {},
): PersonaBreak {
  const emb = options.embeddings;
  if (emb && emb.turns.length !== turns.length) {
    throw new RangeError(
      `Cannot detect persona breaks as the embeddings must cover every turn: current counts are ${emb.turns.length} and ${turns.length}`,
    );
  }
  const sets = personas.map((p) => new Set(contentWords(personaText(p))));
  // Distinctive markers: a persona's words the other persona does not have.
  const markers = [0, 1].map((k) => new Set([...sets[k]!].filter((w) => !sets[1 - k]!.has(w))));
  const perTurn: PersonaTurn[] = [];
  const run = { 1: 0, 2: 0 };
  const runFrom = { 1: 0, 2: 0 };
  let found: { agent: 1 | 2; seq: number; evidence: string } | undefined;
  turns.forEach((t, i) => {
    const seq = t.seq ?? i + 1;
    const own = t.agent - 1;
    const other = 1 - own;
    const partnerName = personas[other]!.name;
    const claims = _claimsName(t.text, partnerName);
    const words = new Set(contentWords(t.text));
    const hits = (k: number) => [...words].filter((w) => markers[k]!.has(w)).length;
    const [ownHits, partnerHits] = [hits(own), hits(other)];
    let ownScore: number;
    let partnerScore: number;
    let leans: boolean;
    if (emb) {
      const v = emb.turns[i]!;
      ownScore = cosineSimilarity(v, emb.personas[own]!);
      partnerScore = cosineSimilarity(v, emb.personas[other]!);
      leans = partnerScore >= ownScore + EMBED_MARGIN;
    } else {
      const share = (h: number, k: number) => markers[k]!.size === 0 ? 0 : h / markers[k]!.size;
      ownScore = share(ownHits, own);
      partnerScore = share(partnerHits, other);
      leans = partnerHits >= PARTNER_MIN_HITS && partnerHits > ownHits;
    }
    const assistant = ASSISTANT_VOICE.test(t.text);
    perTurn.push({
      seq,
      agent: t.agent,
      own: round(ownScore, 4),
      partner: round(partnerScore, 4),
      claims_partner_name: claims,
    });
    run[t.agent] = leans ? run[t.agent] + 1 : 0;
    if (run[t.agent] === 1) runFrom[t.agent] = seq;
    if (found) return;
    if (claims) {
      found = {
        agent: t.agent,
        seq,
        evidence: `turn ${seq}: agent ${t.agent} calls itself ${partnerName}`,
      };
    } else if (assistant) {
      found = {
        agent: t.agent,
        seq,
        evidence: `turn ${seq}: agent ${t.agent} drops its persona for an assistant's voice`,
      };
    } else if (run[t.agent] >= PERSONA_RUN) {
      found = {
        agent: t.agent,
        seq: runFrom[t.agent],
        evidence: `turns ${runFrom[t.agent]}-${seq}: agent ${t.agent} speaks closer to ` +
          `${partnerName}'s persona than to its own`,
      };
    }
  });
  const measurable = emb !== undefined || markers.some((m) => m.size > 0);
  const consistency = (agent: 1 | 2) => {
    const mine = perTurn.filter((p) => p.agent === agent);
    return mine.length === 0 || !measurable
      ? null
      : round(mine.reduce((s, p) => s + p.own - p.partner, 0) / mine.length, 4);
  };
  return {
    detected: found !== undefined,
    method: emb ? "embedding" : "lexical",
    agent: found?.agent ?? null,
    from_turn: found?.seq ?? null,
    consistency: { "1": consistency(1), "2": consistency(2) },
    per_turn: perTurn,
    evidence: found?.evidence ?? null,
  };
}

/**
 * Whether `text` names its speaker `name`: "I am / I'm / my name is /
 * this is / speaking as NAME", "NAME here", or a line opening "NAME:" (the
 * speaker writing the partner's part).
 */
function _claimsName(text: string, name: string): boolean {
  const first = tokenize(name)[0];
  if (!first) return false;
  const n = first.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const patterns = [
    new RegExp(
      `\\b(?:i am|i'm|i’m|my name is|this is|speaking as|it's me,?)\\s+${n}\\b(?!['’])`,
      "iu",
    ),
    new RegExp(`\\b${n} here\\b`, "iu"),
    new RegExp(`(?:^|\\n)\\s*\\**${n}\\**\\s*:`, "iu"),
  ];
  return patterns.some((p) => p.test(text));
}

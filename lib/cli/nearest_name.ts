/**
 * Which flag a mistyped one was meant to be: the nearest name by edit
 * distance, for "Unknown flag --max-turn: did you mean --max-turns?".
 *
 * @module
 */

/**
 * The name in `candidates` nearest to `typed`: within an edit distance of a
 * quarter of its length (at least 1, a swap of neighbours counting as one
 * edit; on a tie the one sharing the longer start), or else the only one it
 * starts (for 3 letters or more).
 */
export function nearestName(typed: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(1, Math.floor(typed.length / 4));
  let best: { name: string; distance: number; prefix: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(typed, name);
    if (distance > limit) continue;
    // On a tie, the one sharing the longer start: --limt is --limit, not --list.
    let prefix = 0;
    while (prefix < typed.length && typed[prefix] === name[prefix]) prefix++;
    if (
      best === undefined || distance < best.distance ||
      (distance === best.distance && prefix > best.prefix)
    ) {
      best = { name, distance, prefix };
    }
  }
  if (best) return best.name;
  const prefixed = typed.length >= 3 ? candidates.filter((name) => name.startsWith(typed)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
      }
    }
  }
  return rows[a.length]![b.length]!;
}

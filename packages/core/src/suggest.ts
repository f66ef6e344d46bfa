/**
 * "Did you mean" suggestions for unknown names (task types, properties). Pure string logic.
 */

/** Levenshtein distance, case-insensitive, with an early exit once `max` is exceeded. */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (s === t) return 0;
  if (Math.abs(s.length - t.length) > max) return max + 1;
  let previous = Array.from({ length: t.length + 1 }, (_, i) => i);
  for (let i = 1; i <= s.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      const value = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      current.push(value);
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > max) return max + 1;
    previous = current;
  }
  return previous[t.length] ?? 0;
}

const lastSegment = (name: string): string => name.slice(name.lastIndexOf('.') + 1);

/**
 * The candidates closest to `input`, best first. Dotted names (Java-style types) are also compared by their last
 * segment, so `io.kestra.plugin.scripts.python.Comands` and a bare `Commands` both find the right types.
 */
export function closestNames(input: string, candidates: Iterable<string>, limit = 3): string[] {
  const inputLast = lastSegment(input);
  const scored: { name: string; score: number }[] = [];
  for (const name of candidates) {
    const threshold = Math.max(2, Math.floor(Math.max(input.length, name.length) * 0.25));
    let score = editDistance(input, name, threshold);
    if (input.includes('.') || name.includes('.')) {
      const lastThreshold = Math.max(1, Math.floor(Math.max(inputLast.length, lastSegment(name).length) * 0.34));
      const byLast = editDistance(inputLast, lastSegment(name), lastThreshold);
      // A last-segment match counts, but a full-name match of equal distance ranks first.
      if (byLast <= lastThreshold) score = Math.min(score, byLast + 0.5 + editDistance(input, name) / 1000);
    }
    if (score <= threshold) scored.push({ name, score });
  }
  scored.sort((x, y) => x.score - y.score || x.name.localeCompare(y.name));
  // Only names about as close as the best one: a near-exact match should not drag unrelated names along.
  const best = scored[0]?.score ?? 0;
  const seen = new Set<string>();
  const result: string[] = [];
  for (const { name, score } of scored) {
    if (seen.has(name) || score > best + 3) continue;
    seen.add(name);
    result.push(name);
    if (result.length === limit) break;
  }
  return result;
}

/** `; did you mean "a" or "b"?`, or an empty string when there is nothing close. */
export function didYouMean(input: string, candidates: Iterable<string>, limit = 3): string {
  return formatSuggestion(closestNames(input, candidates, limit));
}

/** `; did you mean "a", "b" or "c"?` for a list of names (empty list: empty string). */
export function formatSuggestion(names: readonly string[]): string {
  if (names.length === 0) return '';
  const quoted = names.map((n) => `"${n}"`);
  const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
  return `; did you mean ${list}?`;
}

/**
 * Edit distance for "did you mean" suggestions on misspelt option names.
 *
 * @packageDocumentation
 */

/**
 * Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), compared
 * case-insensitively so `strongconvexity` finds `strongConvexity` at distance 0.
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...new Array<number>(t.length).fill(0)]);
  for (let j = 0; j <= t.length; j++) d[0][j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[s.length][t.length];
}

/**
 * The candidate nearest to `name`, or `undefined` when none is plausibly meant: the
 * distance must be at most 1 for names of up to 3 letters, else max(2, ⌊|name|/3⌋), and below the candidate's own length, or one
 * name must contain the other (`maxIterations` → `maxIter`).
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const dist = editDistance(name, c);
    const lower = name.toLowerCase();
    const contains = lower.length >= 3 && c.length >= 3 && (c.toLowerCase().includes(lower) || lower.includes(c.toLowerCase()));
    const limit = name.length <= 3 ? 1 : Math.max(2, Math.floor(name.length / 3));
    if (!(dist <= limit && dist < c.length) && !contains) continue;
    // containment counts as a near miss, but a genuine small edit wins over it
    const score = dist <= limit ? dist : limit + 1;
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

/**
 * "Did you mean" for names written in templates: the edit distance between
 * a misspelt name and the names that exist. Used by the startup check
 * (lib/check.ts) and the `html` template scanner (lib/htmlscan.ts).
 */

/**
 * The optimal-string-alignment distance (Levenshtein plus swapping two
 * neighbours, so `rendre` is one edit from `render`), or `limit + 1` as soon
 * as it must exceed `limit`.
 */
export function editDistance(a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      row.push(d);
      if (d < best) best = d;
    }
    if (best > limit) return limit + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** How far a name may be from a candidate and still be suggested: short names allow fewer edits. */
export function tolerance(name: string): number {
  return name.length <= 4 ? 1 : name.length <= 8 ? 2 : 3;
}

/** The candidates close to `name`, nearest first (at most three). */
export function suggestions(name: string, candidates: Iterable<string>): string[] {
  const limit = tolerance(name);
  const scored: [number, string][] = [];
  for (const c of new Set(candidates)) {
    if (c === name) continue;
    // Case alone is a likely slip: `renderTitle` for `rendertitle`.
    const d = c.toLowerCase() === name.toLowerCase() ? 0.5 : editDistance(name, c, limit);
    if (d <= limit) scored.push([d, c]);
  }
  scored.sort((x, y) => x[0] - y[0] || (x[1] < y[1] ? -1 : 1));
  return scored.slice(0, 3).map(([, c]) => c);
}

/** ` (did you mean 'a' or 'b'?)`, or '' when there is nothing close. */
export function didYouMean(found: readonly string[]): string {
  if (found.length === 0) return '';
  const q = found.map((s) => `'${s}'`);
  return ` (did you mean ${q.length === 1 ? q[0] : q.slice(0, -1).join(', ') + ' or ' + q[q.length - 1]}?)`;
}

/**
 * The per-call-site convergence policies behind the strings `'warn'` and `'tighten'`: the
 * first unconverged result of each place in user code is printed, the rest are counted.
 *
 * @packageDocumentation
 */
import { checkOnNotConverged, convergencePolicy, type ConvergenceCounts, type ConvergencePolicy } from './policy.js';

const sitePolicies = new Map<string, ConvergencePolicy>();

/**
 * The `'warn'` policy of one call site in user code: `hypergradient(...)` and `argmin(...)`
 * called with the string `'warn'` print the first unconverged result of each call site and
 * count the rest ({@link convergenceReport}).
 */
export function sitePolicy(site: string): ConvergencePolicy {
  let p = sitePolicies.get(site);
  if (p == null) {
    p = convergencePolicy('warn', `warned once for ${site}; later ones are counted, see convergenceReport()`);
    sitePolicies.set(site, p);
  }
  return p;
}

/**
 * Counters of the per-call-site `'warn'` policies: how many results each call site consumed
 * unconverged since the last {@link resetConvergenceWarnings}.
 *
 * @returns one entry per call site that checked a result.
 * @example
 * ```ts
 * for (const { site, counts } of convergenceReport()) console.log(site, counts.unconverged, 'of', counts.checked);
 * ```
 */
export function convergenceReport(): Array<{ site: string; counts: ConvergenceCounts }> {
  return Array.from(sitePolicies.entries()).map(([site, p]) => ({ site, counts: { ...p.counts } }));
}

/** Forgets the per-call-site warnings and counters (for tests and long-running services). */
export function resetConvergenceWarnings(): void {
  sitePolicies.clear();
}

/**
 * The first stack frame outside bilevel's own driver modules: the user's call site, so that
 * the string `'warn'` warns once per place in user code, not once per call.
 */
export function callSite(): string {
  const stack = new Error().stack ?? '';
  const lines = stack.split('\n').slice(1);
  const outside = lines.find((l) => !/[/\\]core[/\\](src|dist)[/\\](driver[/\\]|hypergradient|argmin|argmin-layer)/.test(l));
  return (outside ?? lines[lines.length - 1] ?? 'unknown').trim();
}

/**
 * The policy object for an `onNotConverged` option at a call site: a policy object is used as
 * is; the strings `'warn'` and `'tighten'` share one policy per call site (first occurrence
 * printed, the rest counted); `'error'` and `{ fallback }` get a fresh one.
 */
export function resolvePolicy(where: string, option: unknown, site: () => string): ConvergencePolicy {
  const value = checkOnNotConverged(where, option);
  if (value === 'warn') return sitePolicy(site());
  if (value === 'tighten') {
    const key = `${site()}#tighten`;
    let p = sitePolicies.get(key);
    if (p == null) {
      p = convergencePolicy('tighten', `warned once for ${key}; later ones are counted, see convergenceReport()`);
      sitePolicies.set(key, p);
    }
    return p;
  }
  return convergencePolicy(value);
}

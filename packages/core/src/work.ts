/**
 * What a computation cost. "Computational work" in plots and benchmarks is
 * `innerIterations + linearIterations`, as in Salehi et al. 2025 and Ehrhardt & Roberts 2021 ({@link workUnits}).
 */
export interface Work {
  /** Energy (or map) evaluations without a gradient. */
  energyEvals: number;
  /** Gradient evaluations (each also yields the energy value). */
  gradEvals: number;
  /** Hessian–vector products. */
  hvps: number;
  /** Vector–Jacobian products (including mixed second-derivative products). */
  vjps: number;
  /** Jacobian–vector products. */
  jvps: number;
  /** Lower-level solver iterations. */
  innerIterations: number;
  /** Linear-solver iterations. */
  linearIterations: number;
  /** Wall time in milliseconds. */
  timeMs: number;
}

/** A zero {@link Work} record. */
export function emptyWork(): Work {
  return { energyEvals: 0, gradEvals: 0, hvps: 0, vjps: 0, jvps: 0, innerIterations: 0, linearIterations: 0, timeMs: 0 };
}

/** Sum of work records (a new object). */
export function addWork(...ws: Array<Partial<Work> | undefined>): Work {
  const out = emptyWork();
  for (const w of ws) {
    if (w == null) continue;
    for (const k of Object.keys(out) as Array<keyof Work>) out[k] += w[k] ?? 0;
  }
  return out;
}

/** Inner plus linear iterations: the papers' unit of computational work. */
export function workUnits(w: Work): number {
  return w.innerIterations + w.linearIterations;
}

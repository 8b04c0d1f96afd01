import { tf } from '../tf.js';
import { readScalars, withCleanup } from '../internal/solver-utils.js';
import { combine, gramSchmidt, heapSquaredNorm, normNumber, squaredNormNumber } from '../internal/fused-ops.js';
import type { LinearSolver, LinearStatus } from './types.js';
import { finishLinear, residual, setupLinear, type LinearBaseOptions, type LinearSetup } from './common.js';
import { iterate } from '../iterate/loop.js';
import type { Step } from '../iterate/types.js';
import { defineOptions, opt, recordExplicit } from '../options.js';
import { LINEAR_STOPPING_SCHEMA } from '../internal/solver-options.js';

/** Options of {@link gmres}. */
export interface GmresOptions extends LinearBaseOptions {
  /** Krylov dimension before a restart, GMRES(m) (default 20). Memory: m + 1 vectors shaped like b. */
  restart?: number;
}

/** Defaults of {@link gmres} (tolerance reasoning as in {@link CG_DEFAULTS}). */
export const GMRES_DEFAULTS = { tol: 1e-5, tolMode: 'relative', maxIter: 200, restart: 20 } as const;

/** Solves the upper-triangular `R y = g` (R given by columns as JS arrays). */
function backSubstitute(h: number[][], g: number[], n: number): number[] {
  const y = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = g[i];
    for (let j = i + 1; j < n; j++) s -= h[j][i] * y[j];
    y[i] = s / h[i][i];
  }
  return y;
}

/** GMRES's state between restart cycles: the iterate, its true residual and ‖r‖. */
interface GmresState {
  x: tf.Tensor;
  r: tf.Tensor;
  beta: number;
}

/**
 * Modified Gram–Schmidt of `av` against `V[0..j]`: `w`, ‖av‖ and the column `[h₀ … h_j, ‖w‖]`.
 * Where the backend's memory can be read (internal/fused-ops.ts) the hᵢ are float64 sums and
 * the whole step one fused kernel (`gramSchmidt`); else kept on the device, the
 * coefficients read once, together. Its own tidy frees each step's temporaries at once
 * (without it a cycle's peak memory grows with m²: 7.8 MB instead of 2.2 MB measured on the
 * strategy-swap example).
 */
function project(av: tf.Tensor, V: tf.Tensor[], j: number): { w: tf.Tensor; avNorm: number; col: number[] } {
  const avSquared = heapSquaredNorm(av);
  if (avSquared != null) {
    const { w, h } = gramSchmidt(av, V.slice(0, j + 1));
    return { w, avNorm: Math.sqrt(avSquared), col: [...h, Math.sqrt(squaredNormNumber(w))] };
  }
  const { w, coefficients } = tf.tidy(() => {
    let w: tf.Tensor = av;
    const coefficients: tf.Tensor[] = [];
    for (let i = 0; i <= j; i++) {
      const h = tf.sum(tf.mul(w, V[i]));
      coefficients.push(h);
      w = tf.sub(w, tf.mul(V[i], h));
    }
    return { w, coefficients };
  });
  const [avNorm, ...col] = readScalars(tf.tidy(() => tf.norm(av)), ...coefficients, tf.tidy(() => tf.norm(w)));
  return { w, avNorm, col };
}

/**
 * One restart cycle, at most `min(m, budget)` Arnoldi steps (each one matvec, one
 * iteration): builds an orthonormal Krylov basis of `span{r, Ar, …}` by modified
 * Gram–Schmidt, minimises `‖β e₁ − H̄ y‖` by Givens rotations in JS numbers, and returns
 * `x + V y` with its recomputed residual. The basis is freed by the loop's tidy.
 */
function cycle(setup: LinearSetup, b: tf.Tensor, m: number, { x, r, beta }: GmresState, budget: number): Step<GmresState> {
  const V: tf.Tensor[] = [tf.div(r, beta)];
  const H: number[][] = []; // H[j] is column j of H̄ (length j + 2)
  const cs: number[] = [];
  const sn: number[] = [];
  const g: number[] = [beta];
  let n = 0;
  let lucky = false;
  for (let j = 0; j < m && n < budget; j++) {
    const av = setup.apply(V[j]);
    const { w, avNorm, col } = project(av, V, j);
    av.dispose();
    n = j + 1;
    const hNext = col.pop()!;
    const column = [...col, hNext];
    for (let i = 0; i < j; i++) {
      const t = cs[i] * column[i] + sn[i] * column[i + 1];
      column[i + 1] = -sn[i] * column[i] + cs[i] * column[i + 1];
      column[i] = t;
    }
    const rho = Math.hypot(column[j], column[j + 1]);
    cs[j] = rho === 0 ? 1 : column[j] / rho;
    sn[j] = rho === 0 ? 0 : column[j + 1] / rho;
    column[j] = rho;
    column[j + 1] = 0;
    g[j + 1] = -sn[j] * g[j];
    g[j] = cs[j] * g[j];
    H.push(column);
    // Lucky breakdown: A maps the Krylov space into itself, the subspace solution is exact.
    lucky = !(hNext > 1e-7 * Math.max(avNorm, 1e-30));
    if (lucky || Math.abs(g[j + 1]) <= setup.threshold || !Number.isFinite(g[j + 1])) {
      w.dispose();
      break;
    }
    V.push(tf.tidy(() => tf.div(w, hNext)));
    w.dispose();
  }
  if (n > 0 && H[n - 1][n - 1] === 0) {
    return { stop: { status: 'breakdown', detail: 'the Hessenberg matrix is singular: A is singular on the Krylov space' }, count: n };
  }
  const y = backSubstitute(H, g, n);
  const xNew = combine(x, y, V.slice(0, n));
  tf.dispose(V);
  const rNew = residual(setup, b, xNew);
  const betaNew = normNumber(rNew);
  const state = { x: xNew, r: rNew, beta: betaNew };
  if (betaNew > setup.threshold && !(betaNew < beta * (1 - 1e-6))) {
    const detail = lucky
      ? 'the Krylov space became invariant yet the residual did not drop: float32 precision is exhausted for this tol'
      : 'a restart cycle made no progress: A may be singular, or increase restart';
    return { state, stop: { status: 'breakdown', detail }, count: n };
  }
  return { state, count: n };
}

const GMRES_OPTIONS = defineOptions<GmresOptions>('gmres', { restart: opt.integer({ min: 1 }), ...LINEAR_STOPPING_SCHEMA }, gmres);

/**
 * Restarted GMRES for general (non-symmetric) operators, such as the `I − ∂ₓT` of an
 * equilibrium model's backward pass.
 *
 * Each cycle builds an orthonormal Krylov basis `V` of `span{r, Ar, …, A^{m−1}r}` by
 * Arnoldi with modified Gram–Schmidt (`AV_m = V_{m+1} H̄_m`; its dot products and norms are
 * float64 sums read off the backend's memory where it allows, each projection one fused
 * kernel), and minimises
 * `‖β e₁ − H̄ y‖` by Givens rotations in JS numbers (float64), so the residual estimate is
 * known after every matvec without another device read. Then `x += V y`, the true
 * residual is recomputed, and the next cycle starts from it.
 *
 * @param options - `restart` (m), defaults `tol`, `tolMode`, `maxIter` (total matvecs of the Arnoldi steps).
 * @returns a {@link LinearSolver}.
 * @example
 * ```ts
 * const { x, converged } = gmres({ restart: 30 }).solve((v) => tf.sub(v, jvpOfT(v)), b);
 * ```
 */
export function gmres(options: GmresOptions = {}): LinearSolver {
  const where = 'gmres';
  GMRES_OPTIONS.check(options);
  const m = options.restart ?? GMRES_DEFAULTS.restart;
  const defaults = {
    tol: options.tol ?? GMRES_DEFAULTS.tol,
    tolMode: options.tolMode ?? GMRES_DEFAULTS.tolMode,
    maxIter: options.maxIter ?? GMRES_DEFAULTS.maxIter,
  };
  return recordExplicit({
    name: where,
    requiresSymmetric: false,
    solve: (matvec, b, solveOptions) => withCleanup(() => {
      const setup = setupLinear(where, matvec, b, solveOptions, defaults);
      const { state, iterations, status, detail } = iterate<GmresState>({
        init: () => {
          const r = setup.zeroStart ? tf.clone(b) : residual(setup, b, setup.x);
          return { x: setup.x, r, beta: normNumber(r) };
        },
        residual: ({ beta }) => beta,
        step: (state, { iteration, maxIter }) => cycle(setup, b, m, state, maxIter - iteration),
      }, { threshold: setup.threshold, maxIter: setup.maxIter });
      state.r.dispose();
      return finishLinear(setup, state.x, iterations, state.beta, status as LinearStatus, detail, 'increase maxIter or restart, or precondition');
    }),
  }, options);
}

import { tf } from '../tf.js';
import type { InnerSolver } from './types.js';
import { INNER_DEFAULTS, resolveStopping, runInner, type Evaluated, type InnerBaseOptions, type InnerContext, type InnerState } from './run.js';
import { acceptStep, lineSearchNoise } from './line-search.js';
import { axpy, dotFloat32Number } from '../internal/fused-ops.js';
import { twoLoopOnHeap } from '../internal/lbfgs-two-loop.js';
import { BACKTRACKING_DEFAULTS, resolveBacktracking, type BacktrackingOptions } from './gradient-descent.js';
import { defineOptions, opt, recordExplicit } from '../options.js';
import { BACKTRACKING_SCHEMA, INNER_STOPPING_SCHEMA } from '../internal/solver-options.js';

/** ⟨a, b⟩ by tfjs's float32 Sum (see the note on sᵀy below), off the heap on wasm with the same bits. */
const opDot = dotFloat32Number;

/** Options of {@link lbfgs}. */
export interface LbfgsOptions extends InnerBaseOptions {
  /** Number of (s, y) pairs kept (default 10). */
  memory?: number;
  /**
   * Backtracking settings of the Armijo line search (it always runs; the first trial is
   * the unit quasi-Newton step). `growth` is unused.
   */
  lineSearch?: BacktrackingOptions;
}

/** Defaults of {@link lbfgs}. */
export const LBFGS_DEFAULTS = { ...INNER_DEFAULTS, memory: 10, lineSearch: BACKTRACKING_DEFAULTS } as const;

const LBFGS_OPTIONS = defineOptions<LbfgsOptions>('lbfgs', {
  memory: opt.integer({ min: 1 }),
  lineSearch: opt.object(BACKTRACKING_SCHEMA, 'pass backtracking settings, e.g. { shrink: 0.5, maxTrials: 40 }'),
  ...INNER_STOPPING_SCHEMA,
}, lbfgs);

interface LbfgsState extends InnerState {
  s: tf.Tensor[];
  y: tf.Tensor[];
  /** 1/(sᵢᵀyᵢ) as scalar tensors, so the two-loop recursion needs no device reads. */
  rho: tf.Tensor[];
  /** Initial Hessian scaling sᵀy/yᵀy of the newest pair. */
  gamma: number;
}

/** Two-loop recursion: `−H g` with H the L-BFGS inverse-Hessian approximation. */
function direction(g: tf.Tensor, state: LbfgsState): tf.Tensor {
  // on wasm: the same float32 arithmetic in one pass over the heap, bit for bit (internal/lbfgs-two-loop.ts)
  const fused = twoLoopOnHeap(g, state.s, state.y, state.rho, state.gamma);
  if (fused != null) return fused;
  return tf.tidy(() => {
    const m = state.s.length;
    const alphas: tf.Tensor[] = new Array(m);
    let q = g;
    for (let i = m - 1; i >= 0; i--) {
      alphas[i] = tf.mul(state.rho[i], tf.sum(tf.mul(state.s[i], q)));
      q = tf.sub(q, tf.mul(state.y[i], alphas[i]));
    }
    let r = tf.mul(q, state.gamma);
    for (let i = 0; i < m; i++) {
      const beta = tf.mul(state.rho[i], tf.sum(tf.mul(state.y[i], r)));
      r = tf.add(r, tf.mul(state.s[i], tf.sub(alphas[i], beta)));
    }
    return tf.neg(r);
  });
}

/**
 * Limited-memory BFGS with a backtracking Armijo line search.
 *
 * The direction is `d = −H_k ∇Φ(x_k)`, H_k built by the two-loop recursion from the last
 * `memory` pairs `sᵢ = x_{i+1} − x_i`, `yᵢ = ∇Φ(x_{i+1}) − ∇Φ(x_i)` with the scaling
 * `H⁰ = (sᵀy / yᵀy) I`. Safeguards: a pair with `sᵀy ≤ 0` (or below round-off) is skipped,
 * so H stays positive definite; a direction that is not a descent direction resets the
 * memory and falls back to `−∇Φ`. The first step is `1/L` (or `1/‖∇Φ‖`), later ones try
 * the unit step first.
 *
 * @param options - `memory`, `lineSearch`, and the defaults `tol`, `tolMode`, `maxIter`.
 * @returns an {@link InnerSolver}.
 * @example
 * ```ts
 * const solver = lbfgs({ memory: 10, tol: 1e-4, tolMode: 'absolute' });
 * const { x, gradNorm } = solver.solve(problem, theta, data, { x0 });
 * ```
 */
export function lbfgs(options: LbfgsOptions = {}): InnerSolver {
  const where = 'lbfgs';
  LBFGS_OPTIONS.check(options);
  const memory = options.memory ?? LBFGS_DEFAULTS.memory;
  const search = resolveBacktracking(where, options.lineSearch ?? true)!;
  const defaults = resolveStopping(options);

  const method = {
    init(_ctx: InnerContext, start: Evaluated): LbfgsState {
      return { current: start, s: [], y: [], rho: [], gamma: 1 };
    },
    step(ctx: InnerContext, state: LbfgsState) {
      const { x, grad, value, gradNorm } = state.current;
      let pairs = { s: state.s, y: state.y, rho: state.rho, gamma: state.gamma };
      let d = direction(grad, state);
      let slope = opDot(grad, d);
      if (!(slope < 0)) {
        // Not a descent direction (round-off or a bad pair): restart from steepest descent.
        d.dispose();
        d = tf.neg(grad);
        slope = -gradNorm * gradNorm;
        pairs = { s: [], y: [], rho: [], gamma: 1 };
      }
      let alpha = pairs.s.length > 0 ? 1 : ctx.lipschitz != null ? 1 / ctx.lipschitz : Math.min(1, 1 / Math.max(gradNorm, 1e-30));
      let next: Evaluated | null = null;
      const noise = lineSearchNoise(value, alpha * Math.abs(slope), x.size);
      for (let trial = 0; trial < search.maxTrials; trial++) {
        const candidate = ctx.evaluate(axpy(x, alpha, d));
        const trialSlope = opDot(candidate.grad, d);
        if (acceptStep(value, candidate.value, slope, trialSlope, alpha, search.c, noise)) {
          next = candidate;
          break;
        }
        tf.dispose([candidate.x, candidate.grad]);
        alpha *= search.shrink;
      }
      if (next == null) {
        d.dispose();
        return { stop: { status: 'line-search-failed' as const, detail: `no step down to ${alpha.toExponential(2)} along the quasi-Newton direction satisfied Armijo` } };
      }
      const sNew = tf.tidy(() => tf.mul(d, alpha));
      d.dispose();
      const yNew = tf.tidy(() => tf.sub(next!.grad, grad));
      // float32 sums kept on purpose: L-BFGS's pairs amplify their round-off (float64 sums changed iteration counts by ±1 and one status in the tests)
      const [sy, yy, ss] = [opDot(sNew, yNew), opDot(yNew, yNew), opDot(sNew, sNew)];
      if (ss === 0) {
        // x + αd rounded back to x: no float32 progress is possible along d.
        tf.dispose([sNew, yNew, next.x, next.grad]);
        return { stop: { status: 'line-search-failed' as const, detail: `the accepted step ${alpha.toExponential(2)} no longer changes x in float32` } };
      }
      // Curvature safeguard: sᵀy must be positive, and not lost in float32 round-off.
      if (sy > 1e-6 * Math.sqrt(ss * yy) && Number.isFinite(sy)) {
        const s = [...pairs.s, sNew];
        const y = [...pairs.y, yNew];
        const rho = [...pairs.rho, tf.scalar(1 / sy)];
        if (s.length > memory) {
          s.shift();
          y.shift();
          rho.shift();
        }
        return { state: { current: next, s, y, rho, gamma: sy / yy } };
      }
      tf.dispose([sNew, yNew]);
      return { state: { current: next, ...pairs } };
    },
  };
  return recordExplicit({
    name: where,
    solve: (problem, theta, data, solveOptions) => runInner(where, defaults, method, problem, theta, data, solveOptions),
  }, options);
}

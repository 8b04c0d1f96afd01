import { tf } from '../tf.js';
import { checkPositiveInt } from '../validate.js';
import { checkOptionKeys, checkStoppingOptions, readScalars, withCleanup } from '../inner/loop.js';
import type { LinearSolver, LinearStatus } from './types.js';
import { finishLinear, residual, setupLinear, type LinearBaseOptions } from './cg.js';

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

/**
 * Restarted GMRES for general (non-symmetric) operators, such as the `I − ∂ₓT` of an
 * equilibrium model's backward pass.
 *
 * Each cycle builds an orthonormal Krylov basis `V` of `span{r, Ar, …, A^{m−1}r}` by
 * Arnoldi with modified Gram–Schmidt (`AV_m = V_{m+1} H̄_m`), and minimises
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
  checkOptionKeys(where, options, ['restart', 'tol', 'tolMode', 'maxIter']);
  checkStoppingOptions(where, options);
  const m = options.restart ?? GMRES_DEFAULTS.restart;
  checkPositiveInt(where, 'restart', m);
  const defaults = {
    tol: options.tol ?? GMRES_DEFAULTS.tol,
    tolMode: options.tolMode ?? GMRES_DEFAULTS.tolMode,
    maxIter: options.maxIter ?? GMRES_DEFAULTS.maxIter,
  };
  return {
    name: where,
    requiresSymmetric: false,
    solve: (matvec, b, solveOptions) => withCleanup(() => {
      const setup = setupLinear(where, matvec, b, solveOptions, defaults);
      let x = setup.x;
      let k = 0;
      let status: LinearStatus = 'max-iterations';
      let detail = '';
      let r = setup.zeroStart ? tf.clone(b) : residual(setup, b, x);
      let [beta] = readScalars(tf.tidy(() => tf.norm(r)));
      while (true) {
        if (!Number.isFinite(beta)) {
          status = 'nan';
          break;
        }
        if (beta <= setup.threshold) {
          status = 'converged';
          break;
        }
        if (k >= setup.maxIter) break;
        const V: tf.Tensor[] = [tf.tidy(() => tf.div(r, beta))];
        const H: number[][] = []; // H[j] is column j of H̄ (length j + 2)
        const cs: number[] = [];
        const sn: number[] = [];
        const g: number[] = [beta];
        let n = 0;
        let lucky = false;
        for (let j = 0; j < m && k < setup.maxIter; j++) {
          const av = setup.apply(V[j]);
          // Modified Gram–Schmidt, kept on the device: the coefficients are read once, together.
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
          av.dispose();
          k += 1;
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
          tf.dispose(V);
          status = 'breakdown';
          detail = 'the Hessenberg matrix is singular: A is singular on the Krylov space';
          break;
        }
        const y = backSubstitute(H, g, n);
        const xNew = tf.tidy(() => {
          let acc = x;
          for (let i = 0; i < n; i++) acc = tf.add(acc, tf.mul(V[i], y[i]));
          return acc;
        });
        tf.dispose(V);
        tf.dispose([x, r]);
        x = xNew;
        r = residual(setup, b, x);
        const previous = beta;
        beta = readScalars(tf.tidy(() => tf.norm(r)))[0];
        if (beta > setup.threshold && !(beta < previous * (1 - 1e-6))) {
          status = 'breakdown';
          detail = lucky
            ? 'the Krylov space became invariant yet the residual did not drop: float32 precision is exhausted for this tol'
            : 'a restart cycle made no progress: A may be singular, or increase restart';
          break;
        }
      }
      r.dispose();
      return finishLinear(setup, x, k, beta, status, detail, 'increase maxIter or restart, or precondition');
    }),
  };
}

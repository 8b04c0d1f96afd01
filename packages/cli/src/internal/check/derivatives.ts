/**
 * The derivative checks of `bilevel check`: ∇ₓΦ, ∇²ₓₓΦ v, ∇²_{xθ}Φ v and ∇ₓℓ against
 * five-point central differences along random unit directions (core's gradcheck stencil
 * and step, applied to the problem's own derivative functions — a hand-written gradient
 * included, which core's checkGradient, built on autodiff, cannot test).
 */
import { tf, seededUnit, seededUnitParams, zipParams, dotParams, disposeParams, normParams, readScalar, GRADCHECK_DEFAULTS } from '@bilevel/core';
import type { Params, Problem, Loss, Data } from '@bilevel/core';

/** One derivative checked. */
export interface DerivativeCheck {
  name: string;
  /** Largest relative error over the directions. */
  maxRelError: number;
  ok: boolean;
  /** Why it was skipped, when it was. */
  skipped?: string;
}

const fivePoint = (f: (t: number) => number, h: number) => (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h);

/** Relative error as core's gradcheck measures it (floored at 1e-3·scale so near-orthogonal directions do not alarm). */
function relError(analytic: number, numeric: number, scale: number): number {
  if (!Number.isFinite(analytic) || !Number.isFinite(numeric)) return Infinity;
  return Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric), 1e-3 * scale, 1e-30);
}

/** Step h along a unit direction at x (core's GRADCHECK default: ~1e-2 per entry at x's scale). */
function stepAt(x: tf.Tensor): number {
  const n = readScalar(tf.tidy(() => tf.norm(x)));
  const sqrtN = Math.sqrt(x.size);
  return 1e-2 * Math.max(1, n / sqrtN) * sqrtN;
}

const scalar = (t: tf.Tensor): number => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

/** Runs the four checks at x with `directions` random directions each. */
export function checkDerivatives<D extends Data>(problem: Problem<D>, loss: Loss<D>, theta: Params, data: D, x: tf.Tensor, directions: number, tol: number = GRADCHECK_DEFAULTS.tol): DerivativeCheck[] {
  const h = stepAt(x);
  const energy = (z: tf.Tensor, th = theta) => scalar(tf.tidy(() => problem.energy(z, th, data)));
  const along = (d: tf.Tensor, t: number) => tf.tidy(() => tf.add(x, tf.mul(d, t)));
  const out: DerivativeCheck[] = [];
  const run = (name: string, one: (k: number) => number) => {
    try {
      let worst = 0;
      for (let k = 0; k < directions; k++) worst = Math.max(worst, one(k));
      out.push({ name, maxRelError: worst, ok: worst <= tol });
    } catch (e) {
      out.push({ name, maxRelError: Infinity, ok: false, skipped: (e as Error).message.split('\n')[0] });
    }
  };
  const g = problem.gradient(x, theta, data);
  const gNorm = readScalar(tf.tidy(() => tf.norm(g)));
  run('energy gradient ∇ₓΦ', (k) => {
    const d = seededUnit(x.shape, 11 + k);
    const analytic = scalar(tf.tidy(() => tf.sum(tf.mul(g, d))));
    const numeric = fivePoint((t) => { const z = along(d, t); const v = energy(z); z.dispose(); return v; }, h);
    d.dispose();
    return relError(analytic, numeric, gNorm);
  });
  run('Hessian-vector product ∇²ₓₓΦ v', (k) => {
    const v = seededUnit(x.shape, 101 + k);
    const w = seededUnit(x.shape, 201 + k);
    const hv = problem.hvp(x, theta, data, v);
    const analytic = scalar(tf.tidy(() => tf.sum(tf.mul(hv, w))));
    const scale = readScalar(tf.tidy(() => tf.norm(hv)));
    const numeric = fivePoint((t) => {
      const z = along(v, t);
      const gz = problem.gradient(z, theta, data);
      const r = scalar(tf.tidy(() => tf.sum(tf.mul(gz, w))));
      tf.dispose([z, gz]);
      return r;
    }, h);
    tf.dispose([v, w, hv]);
    return relError(analytic, numeric, scale);
  });
  run('mixed product ∇²_{xθ}Φ v', (k) => {
    const v = seededUnit(x.shape, 301 + k);
    const u = seededUnitParams(theta, 401 + 17 * k);
    const m = problem.mixed(x, theta, data, v);
    const analytic = scalar(dotParams(m, u));
    const scale = normParams(m);
    const hTheta = 1e-2 * Math.max(1, normParams(theta) / Math.sqrt(Object.values(theta).reduce((a, t) => a + t.size, 0)));
    const numeric = fivePoint((t) => {
      const th = zipParams(theta, u, (a, b) => tf.tidy(() => tf.add(a, tf.mul(b, t))));
      const gz = problem.gradient(x, th, data);
      const r = scalar(tf.tidy(() => tf.sum(tf.mul(gz, v))));
      gz.dispose();
      disposeParams(th);
      return r;
    }, hTheta);
    tf.dispose(v);
    disposeParams(u);
    disposeParams(m);
    return relError(analytic, numeric, scale);
  });
  run('loss gradient ∇ₓℓ', (k) => {
    const d = seededUnit(x.shape, 501 + k);
    const gl = tf.grad((z: tf.Tensor) => loss(z, theta, data) as tf.Scalar)(x);
    const analytic = scalar(tf.tidy(() => tf.sum(tf.mul(gl, d))));
    const scale = readScalar(tf.tidy(() => tf.norm(gl)));
    const numeric = fivePoint((t) => { const z = along(d, t); const r = scalar(tf.tidy(() => loss(z, theta, data))); z.dispose(); return r; }, h);
    tf.dispose([d, gl]);
    return relError(analytic, numeric, scale);
  });
  g.dispose();
  return out;
}

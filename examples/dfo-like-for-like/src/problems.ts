/**
 * The test problems of Ehrhardt & Roberts, "Inexact derivative-free optimization for bilevel
 * learning" (JMIV 2021), §5, at sizes that run on wasm here: 1-D denoising with θ = (α) or
 * (α, ν, ξ), 2-D denoising with (α, ν, ξ), and 1-D MRI sampling with one weight per frequency.
 * Every lower level is smooth and strongly convex with known μ and L, so GD and FISTA run with
 * step 1/L, and the value bound of dynamic accuracy is |ℓ(x̃) − ℓ(x̂)| ≤ ‖∇ℓ‖ε + L_ℓε²/2,
 * ε = ‖∇Φ‖/μ.
 */
import { tf, defineProblem } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
import { dftMatrices, gradient2d, mrPhantoms } from '@bilevel/imaging';
import { mulberry32 } from '@bilevel/outer';

export interface Data { y: tf.Tensor; clean: tf.Tensor; yIm?: tf.Tensor; [k: string]: tf.Tensor | undefined }

export interface TestProblem {
  name: string;
  problem: Problem<Data>;
  data: Data;
  theta0: Params;
  /** DFO box on θ. */
  bounds: Record<string, { lower: number; upper: number }>;
  /** Δ₀. */
  radius0: number;
  loss: (x: tf.Tensor, theta: Params, d: Data) => tf.Tensor;
  /** L_{∇ℓ}. */
  lossLipschitz: number;
  dispose(): void;
}

const scalar = (t: tf.Tensor | undefined, fallback: number) => (t == null ? fallback : t.dataSync()[0]);
const exp = (t: tf.Tensor | undefined, fallback: number) => (t == null ? fallback : Math.exp(t.dataSync()[0]));

/** Piecewise-constant 1-D signals with 2–5 jumps, values in [0, 1], and σ-noisy copies. */
function signals(count: number, length: number, sigma: number, seed: number): { clean: tf.Tensor2D; y: tf.Tensor2D } {
  const rng = mulberry32(seed);
  const r = () => rng.next();
  const clean = new Float32Array(count * length);
  const noisy = new Float32Array(count * length);
  for (let i = 0; i < count; i++) {
    const jumps = new Set(Array.from({ length: 2 + Math.floor(4 * r()) }, () => Math.floor(r() * length)));
    let v = r();
    for (let j = 0; j < length; j++) {
      if (jumps.has(j)) v = r();
      clean[i * length + j] = v;
      const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
      noisy[i * length + j] = v + sigma * g;
    }
  }
  return { clean: tf.tensor2d(clean, [count, length]), y: tf.tensor2d(noisy, [count, length]) };
}

const diff1d = (x: tf.Tensor) => {
  const n = x.shape[1]!;
  return tf.sub(tf.slice(x, [0, 1], [-1, n - 1]), tf.slice(x, [0, 0], [-1, n - 1]));
};
const mse = (count: number) => (x: tf.Tensor, _theta: Params, d: Data) => tf.tidy(() => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.clean)))), count));

/**
 * 1-D denoising `½‖x − y‖² + α(Σ_j √((Dx)_j² + ν²) + (ξ/2)‖x‖²)` (the talk's form), θ = log α
 * (`params: 1`, ν = ξ = 1e-3 fixed as in the talk) or (log α, log ν, log ξ) (`params: 3`).
 * μ = 1 + αξ, L = 1 + αξ + 4α/ν (‖D‖² ≤ 4).
 */
export function denoise1d(params: 1 | 3, options: { count: number; length: number; sigma: number; seed: number }): TestProblem {
  const { clean, y } = signals(options.count, options.length, options.sigma, options.seed);
  const consts = (th: Params) => ({ alpha: exp(th.logAlpha, 1), nu: exp(th.logNu, 1e-3), xi: exp(th.logXi, 1e-3) });
  const problem = defineProblem<Data>({
    name: `1-D denoising (${params} parameter${params > 1 ? 's' : ''})`,
    energy: (x, th, d) =>
      tf.tidy(() => {
        const nu2 = th.logNu != null ? tf.exp(tf.mul(2, th.logNu)) : 1e-6;
        const xi = th.logXi != null ? tf.exp(th.logXi) : 1e-3;
        const tv = tf.sum(tf.sqrt(tf.add(tf.square(diff1d(x)), nu2)));
        const reg = tf.add(tv, tf.mul(tf.mul(0.5, xi), tf.sum(tf.square(x))));
        return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.exp(th.logAlpha), reg));
      }),
    init: (_th, d) => d.y.clone(),
    strongConvexity: (th) => 1 + consts(th).alpha * consts(th).xi,
    smoothness: (th) => {
      const c = consts(th);
      return 1 + c.alpha * c.xi + (4 * c.alpha) / c.nu;
    },
  });
  const theta0: Params = params === 1 ? { logAlpha: tf.scalar(Math.log(0.05)) } : { logAlpha: tf.scalar(Math.log(0.05)), logNu: tf.scalar(Math.log(0.05)), logXi: tf.scalar(Math.log(0.05)) };
  const bounds: Record<string, { lower: number; upper: number }> = params === 1
    ? { logAlpha: { lower: Math.log(1e-4), upper: Math.log(10) } }
    : { logAlpha: { lower: Math.log(1e-4), upper: Math.log(10) }, logNu: { lower: Math.log(1e-3), upper: 0 }, logXi: { lower: Math.log(1e-4), upper: 0 } };
  return {
    name: problem.name, problem, data: { y, clean }, theta0, bounds, radius0: 0.5,
    loss: mse(options.count), lossLipschitz: 1 / options.count,
    dispose: () => tf.dispose([clean, y, ...Object.values(theta0)]),
  };
}

/** 2-D denoising with (α, ν, ξ) on MR-like phantom crops: `½‖x − y‖² + α(Σ √(|∇x|² + ν²) + (ξ/2)‖x‖²)`, ‖∇‖² ≤ 8. */
export function denoise2d(options: { count: number; size: number; sigma: number; seed: number }): TestProblem {
  const clean = mrPhantoms({ count: options.count, size: options.size, seed: options.seed });
  const y = tf.tidy(() => tf.add(clean, tf.randomNormal(clean.shape, 0, options.sigma, 'float32', options.seed + 1)));
  const consts = (th: Params) => ({ alpha: exp(th.logAlpha, 1), nu: exp(th.logNu, 1), xi: exp(th.logXi, 1) });
  const problem = defineProblem<Data>({
    name: '2-D denoising (3 parameters)',
    energy: (x, th, d) =>
      tf.tidy(() => {
        const tv = tf.sum(tf.sqrt(tf.add(tf.sum(tf.square(gradient2d(x)), 3), tf.exp(tf.mul(2, th.logNu)))));
        const reg = tf.add(tv, tf.mul(tf.mul(0.5, tf.exp(th.logXi)), tf.sum(tf.square(x))));
        return tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.y)))), tf.mul(tf.exp(th.logAlpha), reg));
      }),
    init: (_th, d) => d.y.clone(),
    strongConvexity: (th) => 1 + consts(th).alpha * consts(th).xi,
    smoothness: (th) => {
      const c = consts(th);
      return 1 + c.alpha * c.xi + (8 * c.alpha) / c.nu;
    },
  });
  const theta0: Params = { logAlpha: tf.scalar(Math.log(0.05)), logNu: tf.scalar(Math.log(0.05)), logXi: tf.scalar(Math.log(0.05)) };
  return {
    name: problem.name, problem, data: { y, clean }, theta0, radius0: 0.5,
    bounds: { logAlpha: { lower: Math.log(1e-4), upper: Math.log(10) }, logNu: { lower: Math.log(1e-3), upper: 0 }, logXi: { lower: Math.log(1e-4), upper: 0 } },
    loss: mse(options.count), lossLipschitz: 1 / options.count,
    dispose: () => tf.dispose([clean, y, ...Object.values(theta0)]),
  };
}

/**
 * 1-D MRI sampling (Ehrhardt & Roberts §5.3): `½ Σ_j s_j²|(Fx − y)_j|² + α Σ √((Dx)² + ν²) + (ξ/2)‖x‖²`,
 * unitary 1-D DFT F (complex data as real pairs), `s_j² = θ_j/(1 − θ_j)`, θ ∈ [0, 0.99]^N;
 * upper level `(1/n)Σ ½‖x̂ − x†‖² + β‖θ‖₁`; α, ν, ξ fixed. μ = ξ + min s², L = max s² + ξ + 4α/ν.
 */
export function mri1d(options: { count: number; length: number; sigma: number; seed: number; beta: number; alpha: number; nu: number; xi: number }): TestProblem {
  const { clean } = signals(options.count, options.length, 0, options.seed);
  const N = options.length;
  const { cos, sin } = dftMatrices(N);
  const noise = (s: number) => tf.randomNormal([options.count, N], 0, options.sigma, 'float32', s);
  const y = tf.tidy(() => tf.add(tf.matMul(clean, cos), noise(options.seed + 1)));
  const yIm = tf.tidy(() => tf.add(tf.neg(tf.matMul(clean, sin)), noise(options.seed + 2)));
  const weights = (th: Params) => tf.div(th.sampling, tf.sub(1, th.sampling));
  const extremes = (th: Params) => {
    const w = Array.from(tf.tidy(() => weights(th)).dataSync());
    return [Math.min(...w), Math.max(...w)];
  };
  const { alpha, nu, xi } = options;
  const problem = defineProblem<Data>({
    name: `1-D MRI sampling (${N} parameters)`,
    energy: (x, th, d) =>
      tf.tidy(() => {
        const re = tf.sub(tf.matMul(x, cos), d.y);
        const im = tf.sub(tf.neg(tf.matMul(x, sin)), d.yIm!);
        const data = tf.mul(0.5, tf.sum(tf.mul(tf.add(tf.square(re), tf.square(im)), weights(th))));
        const tv = tf.sum(tf.sqrt(tf.add(tf.square(diff1d(x)), nu * nu)));
        return tf.addN([data, tf.mul(alpha, tv), tf.mul(xi / 2, tf.sum(tf.square(x)))]);
      }),
    init: (_th, d) => tf.tidy(() => tf.sub(tf.matMul(d.y, cos), tf.matMul(d.yIm!, sin))),
    strongConvexity: (th) => xi + Math.max(0, extremes(th)[0]),
    smoothness: (th) => extremes(th)[1] + xi + (4 * alpha) / nu,
  });
  const theta0: Params = { sampling: tf.fill([N], 0.5) };
  const count = options.count;
  return {
    name: problem.name, problem, data: { y, yIm, clean }, theta0, radius0: 0.2,
    bounds: { sampling: { lower: 0, upper: 0.99 } },
    loss: (x, th, d) => tf.tidy(() => tf.add(tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, d.clean)))), count), tf.mul(options.beta, tf.sum(th.sampling)))),
    lossLipschitz: 1 / count,
    dispose: () => tf.dispose([clean, y, yIm, cos, sin, ...Object.values(theta0)]),
  };
}

export const readTheta = (theta: Params): Record<string, number | number[]> =>
  Object.fromEntries(Object.entries(theta).map(([k, t]) => [k, t.size === 1 ? scalar(t, NaN) : Array.from(t.dataSync())]));

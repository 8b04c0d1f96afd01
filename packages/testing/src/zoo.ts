// The problem zoo: every lower-level shape with its float64 reference hypergradient, as the
// strategy × problem matrix (test/matrix.test.ts) and new strategies' tests consume it.
import { tf, disposeParams, type Data, type FixedPointProblem, type Loss, type Params, type Problem, type SaddleProblem } from '@bilevel/core';
import { makeQuadratic, quadraticTensors, disposeData } from './problems/quadratic.js';
import { ridgeRegression } from './problems/ridge.js';
import { logCoshProblem, logCoshReference, logCoshTheta } from './problems/logcosh.js';
import { affineFixedPoint, affineFixedPointExact } from './problems/fixed-point.js';
import { quadraticSaddle } from './problems/saddle.js';
import { symEig, matmul, transpose } from './dense.js';

export type ProblemKind = 'energy' | 'fixed-point' | 'saddle';

/** Tensors of one zoo problem at θ₀; `dispose()` frees data and θ. */
export interface ZooInstance {
  problem: Problem<Data> | FixedPointProblem<Data> | SaddleProblem<Data>;
  loss: Loss<Data>;
  data: Data;
  theta: Params;
  dispose(): void;
}

/** One zoo problem. */
export interface ZooProblem {
  name: string;
  kind: ProblemKind;
  /** Where the reference comes from. */
  source: 'closed form' | 'float64 central differences';
  /** Reference F(θ₀) and ∇F(θ₀) in float64, flattened in core's key order (flattenParams). */
  reference: { value: number; grad: number[] };
  /**
   * Contraction factor ρ of the map fixed-point rules iterate: 1 − μ/L for an energy with step
   * 1/L, the map's own for a fixed point. Truncated rules lose ≈ ρᴷ after K steps.
   */
  rho: number;
  /** Condition number of the adjoint system (L/μ, or 1/(1 − ρ)): float32 errors scale with it. */
  kappa: number;
  /** A safe step 1/L for rules that iterate x − s∇ₓΦ, where the problem declares no smoothness. */
  step?: number;
  build(): ZooInstance;
}

const rows = (d: Record<string, tf.Tensor>, theta: Params) => () => {
  disposeData(d);
  disposeParams(theta);
};

/**
 * The zoo: bilevel quadratic, ridge regression (θ in the Hessian), log-cosh denoising (smooth,
 * non-quadratic; float64 finite-difference reference), an affine contraction fixed point and a
 * quadratic saddle point with θ inside K.
 *
 * @example
 * ```ts
 * for (const p of problemZoo()) { const inst = p.build(); ...; inst.dispose(); }
 * ```
 */
export function problemZoo(): ZooProblem[] {
  const q = makeQuadratic();
  const ridge = ridgeRegression();
  const logCoshSize = 8;
  const logCoshSeed = 3;
  const logCoshRef = logCoshReference(logCoshSize, logCoshSeed);
  const logCoshTheta0 = logCoshTheta(logCoshSize, logCoshSeed);
  const logCoshL = 1 + logCoshTheta0.alpha * Math.max(...logCoshTheta0.c.map((c) => c * c));
  const fp = { n: 10, p: 3, rho: 0.9, seed: 41 };
  const fpRef = affineFixedPointExact(fp.n, fp.p, fp.rho, fp.seed);
  const fpExact = fpRef.exact(fpRef.theta0);
  const saddle = quadraticSaddle();
  const saddleExact = saddle.exact();
  const qExact = q.exact(q.theta0);
  return [
    {
      name: 'quadratic',
      kind: 'energy',
      source: 'closed form',
      reference: { value: qExact.value, grad: qExact.grad },
      rho: 1 - q.mu / q.L,
      kappa: q.L / q.mu,
      build: () => {
        const t = quadraticTensors(q);
        return { ...t, problem: t.problem as Problem<Data>, loss: t.loss as Loss<Data>, dispose: rows(t.data, t.theta) };
      },
    },
    {
      name: 'ridge',
      kind: 'energy',
      source: 'closed form',
      reference: (() => {
        const e = ridge.exact(ridge.logLambda0);
        return { value: e.value, grad: e.grad };
      })(),
      rho: 1 - 1 / ridge.kappa,
      kappa: ridge.kappa,
      build: () => {
        const data = ridge.data();
        const theta = ridge.theta();
        return { problem: ridge.problem as unknown as Problem<Data>, loss: ridge.loss as unknown as Loss<Data>, data, theta, dispose: rows(data, theta) };
      },
    },
    {
      name: 'log-cosh',
      kind: 'energy',
      source: 'float64 central differences',
      reference: logCoshRef,
      // μ = 1 and L ≤ 1 + α max c² (logcosh'' ≤ 1); the problem declares no smoothness, so rules
      // that need a step take `step` = 1/L.
      rho: 1 - 1 / logCoshL,
      kappa: logCoshL,
      step: 1 / logCoshL,
      build: () => {
        const t = logCoshProblem(logCoshSize, logCoshSeed);
        return { ...t, problem: t.problem as unknown as Problem<Data>, loss: t.loss as unknown as Loss<Data>, dispose: rows(t.data, t.theta) };
      },
    },
    {
      name: 'contraction',
      kind: 'fixed-point',
      source: 'closed form',
      reference: { value: fpExact.value, grad: fpExact.grad },
      rho: fp.rho,
      kappa: 1 / (1 - fp.rho),
      build: () => {
        const t = affineFixedPoint(fp.n, fp.p, fp.rho, fp.seed);
        return { ...t, problem: t.problem as unknown as FixedPointProblem<Data>, loss: t.loss as unknown as Loss<Data>, dispose: rows(t.data, t.theta) };
      },
    },
    {
      name: 'saddle',
      kind: 'saddle',
      source: 'closed form',
      reference: { value: saddleExact.value, grad: saddleExact.grad },
      // No map to contract; the adjoint saddle system has κ = λ_max(H)/λ_min(H), H = I + λKᵀK.
      rho: NaN,
      kappa: (() => {
        const e = symEig(matmul(transpose(saddle.K), saddle.K));
        return (1 + saddle.lambda * e[e.length - 1]) / (1 + saddle.lambda * e[0]);
      })(),
      build: () => {
        const data = saddle.data();
        const theta = saddle.theta();
        return { problem: saddle.problem as unknown as SaddleProblem<Data>, loss: saddle.loss as unknown as Loss<Data>, data, theta, dispose: rows(data, theta) };
      },
    },
  ];
}

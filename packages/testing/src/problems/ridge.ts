// Ridge regression with a learned log-regularisation weight: θ enters the Hessian, so the mixed
// derivative ∇²ₓθΦ is not constant (unlike the bilevel quadratic).
//
//   lower  x̂(θ) = argmin_x ½‖Ax − b‖² + ½e^θ‖x‖²   ⇒  H x̂ = Aᵀb,  H = AᵀA + e^θ I
//   upper  F(θ) = ½‖Vx̂ − t‖²                        ⇒  dx̂/dθ = −e^θ H⁻¹ x̂,  ∇F = −e^θ x̂ᵀH⁻¹Vᵀ(Vx̂ − t)
import { tf, defineProblem } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { gaussians, randomMatrix } from '../random.js';
import { transpose, matmul, matvec, sub, dot, solve, shiftDiagonal, symEig, type Mat } from '../dense.js';

/**
 * Ridge regression (training rows A, b; validation rows V, t) with θ = { logLambda }.
 *
 * @example
 * ```ts
 * const r = ridgeRegression();
 * const { grad } = r.exact(r.logLambda0);
 * ```
 */
export function ridgeRegression(features = 6, trainRows = 10, validationRows = 8, seed = 21) {
  const A: Mat = randomMatrix(trainRows, features, seed, 1 / Math.sqrt(trainRows));
  const V: Mat = randomMatrix(validationRows, features, seed + 1, 1 / Math.sqrt(validationRows));
  const w = gaussians(features, seed + 2);
  const b = matvec(A, w).map((v, i) => v + 0.3 * gaussians(trainRows, seed + 3)[i]);
  const t = matvec(V, w).map((v, i) => v + 0.3 * gaussians(validationRows, seed + 4)[i]);
  const logLambda0 = Math.log(0.3);
  const gram = matmul(transpose(A), A);
  const eig = symEig(gram);
  const exact = (logLambda: number) => {
    const lambda = Math.exp(logLambda);
    const H = shiftDiagonal(gram, lambda);
    const x = solve(H, matvec(transpose(A), b));
    const r = sub(matvec(V, x), t);
    const q = solve(H, matvec(transpose(V), r));
    return { x, value: 0.5 * dot(r, r), grad: [-lambda * dot(x, q)] };
  };
  type D = { A: tf.Tensor2D; b: tf.Tensor1D; V: tf.Tensor2D; t: tf.Tensor1D };
  const mv = (M: tf.Tensor, x: tf.Tensor) => tf.squeeze(tf.matMul(M as tf.Tensor2D, tf.reshape(x, [-1, 1]) as tf.Tensor2D), [1]);
  const lambda0 = Math.exp(logLambda0);
  const problem = defineProblem<D>({
    name: 'ridge regression',
    energy: (x, theta, d) => tf.add(tf.mul(0.5, tf.sum(tf.square(tf.sub(mv(d.A, x), d.b)))), tf.mul(tf.mul(0.5, tf.exp(theta.logLambda)), tf.sum(tf.square(x)))),
    init: () => tf.zeros([features]),
    // Constants at θ₀ (the matrix test evaluates there): spectrum of AᵀA + λ₀I.
    smoothness: eig[eig.length - 1] + lambda0,
    strongConvexity: eig[0] + lambda0,
  });
  const loss = (x: tf.Tensor, _theta: Params, d: D) => tf.mul(0.5, tf.sum(tf.square(tf.sub(mv(d.V, x), d.t))));
  const data = (): D => ({ A: tf.tensor2d(A), b: tf.tensor1d(b), V: tf.tensor2d(V), t: tf.tensor1d(t) });
  const theta = (): Params => ({ logLambda: tf.scalar(logLambda0) });
  return { problem, loss, data, theta, exact, logLambda0, kappa: (eig[eig.length - 1] + lambda0) / (eig[0] + lambda0) };
}

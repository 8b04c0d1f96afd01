import { expect } from 'vitest';
import { tf, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { randn, relErr } from '@bilevel/testing/vitest';
import type { ReconstructionProblem } from '../src/index.js';

/** Inner product of two tensors accumulated in JS doubles (so only the operators' float32 error remains). */
export function dot(a: tf.Tensor, b: tf.Tensor): number {
  const u = a.dataSync();
  const v = b.dataSync();
  if (u.length !== v.length) throw new Error(`dot: sizes ${u.length} and ${v.length} differ`);
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i] * v[i];
  return s;
}

/** Euclidean norm in doubles. */
export function norm(a: tf.Tensor): number {
  return Math.sqrt(dot(a, a));
}

/**
 * Adjoint mismatch |⟨Ax, y⟩ − ⟨x, Aᵀy⟩| / (‖Ax‖‖y‖): scale-free, and well defined even when
 * the inner product itself is near 0 (dividing by it would not be).
 */
export function adjointError(apply: (x: tf.Tensor) => tf.Tensor, adjoint: (y: tf.Tensor) => tf.Tensor, x: tf.Tensor, y: tf.Tensor): number {
  const ax = apply(x);
  const aty = adjoint(y);
  const err = Math.abs(dot(ax, y) - dot(x, aty)) / Math.max(norm(ax) * norm(y), 1e-30);
  tf.dispose([ax, aty]);
  return err;
}

/**
 * A problem's analytic gradient, value, HVP and mixed product against autodiff of the same
 * energy (`auto`, built with `derivatives: false`), at a random x near 0.5 of `shape`, a random
 * direction v, data y = x + noise and θ perturbed away from its initial values so every
 * component matters; asserts equal shapes, relative error below `tol`, and no tensors left
 * (the problems are built by `make` and disposed here). Returns the mixed product's keys and
 * what each problem supplied.
 */
export function expectDerivativesMatchAutodiff(
  make: () => [fast: ReconstructionProblem, auto: ReconstructionProblem],
  shape: number[],
  tol: number,
): { keys: string[]; supplied: [ReconstructionProblem['problem']['supplied'], ReconstructionProblem['problem']['supplied']] } {
  const before = tf.memory().numTensors;
  const [fast, auto] = make();
  const x = tf.tidy(() => tf.add(0.5, tf.mul(0.3, randn(shape, 1))));
  const v = randn(shape, 2);
  const data = { y: tf.tidy(() => tf.add(x, tf.mul(0.1, randn(x.shape, 3)))) };
  const theta: Params = {};
  for (const [k, t] of Object.entries(fast.theta)) theta[k] = tf.tidy(() => tf.add(t, tf.mul(0.05, randn(t.shape, 4 + k.length))));
  const pairs: Array<[tf.Tensor, tf.Tensor]> = [];
  pairs.push([fast.problem.gradient(x, theta, data), auto.problem.gradient(x, theta, data)]);
  const vf = fast.problem.valueAndGradient(x, theta, data);
  const va = auto.problem.valueAndGradient(x, theta, data);
  pairs.push([vf.value, va.value], [vf.grad, va.grad]);
  pairs.push([fast.problem.hvp(x, theta, data, v), auto.problem.hvp(x, theta, data, v)]);
  const mf = fast.problem.mixed(x, theta, data, v);
  const ma = auto.problem.mixed(x, theta, data, v);
  const keys = Object.keys(ma).sort();
  expect(Object.keys(mf).sort()).toEqual(keys);
  for (const k of keys) pairs.push([mf[k], ma[k]]);
  for (const [i, [a, b]] of pairs.entries()) {
    expect(a.shape, `pair ${i}`).toEqual(b.shape);
    expect(relErr(a, b), `pair ${i}`).toBeLessThan(tol);
  }
  tf.dispose([...pairs.flat(), x, v, data.y]);
  disposeParams(theta);
  fast.dispose();
  auto.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return { keys, supplied: [fast.problem.supplied, auto.problem.supplied] };
}

/**
 * A random point for a filter energy's derivative tests: x = 0.5 + 0.3·N(0, 1) (seed 3), a direction v (seed 4),
 * data y (seed 5), and, when `base` is given, θ = base + 0.1·N(0, 1) leafwise (ν_k and α_k away from 1 and from each
 * other, so that a factor applied to the wrong filter shows). The caller disposes x, v, data.y and theta.
 */
export function randomFilterCase(shape: number[], base?: Params): { x: tf.Tensor; v: tf.Tensor; data: { y: tf.Tensor }; theta: Params } {
  const x = tf.tidy(() => tf.add(0.5, tf.mul(0.3, randn(shape, 3))));
  const v = randn(shape, 4);
  const data = { y: randn(shape, 5) };
  const theta: Params = {};
  for (const [k, t] of Object.entries(base ?? {})) theta[k] = tf.tidy(() => tf.add(t, tf.mul(0.1, randn(t.shape, 6 + k.length))));
  return { x, v, data, theta };
}

import { tf, sizeOfParams, flattenParams, unflattenParams, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { disposeState, gradStateTheta, stepJvp } from '../internal/steps.js';
import type { State } from '../internal/steps.js';
import type { SweepFn } from './sweep.js';

/**
 * Forward mode: one tangent `u_j = ∂s_t/∂θ_j` per scalar parameter, propagated with the state
 * by `u_j ← J_s S u_j + ∂_{θ_j} S` (one JVP of the step per parameter per step); cost
 * (#parameters) × K JVPs, memory O(#parameters) states.
 */
export const forwardModeSweep: SweepFn = (step, start, theta, K, terminal) => {
  const P = sizeOfParams(theta);
  const directions: Params[] = [];
  for (let j = 0; j < P; j++) {
    // The basis vector e_j built directly: tf.oneHot rejects depth 1, i.e. a single scalar parameter.
    directions.push(tf.tidy(() => unflattenParams(tf.tensor1d(Array.from({ length: P }, (_, i) => (i === j ? 1 : 0))), theta)));
  }
  let tangents: State[] = directions.map(() => start.map((s) => tf.zerosLike(s)));
  let current = start.map((s) => s.clone());
  for (let t = 0; t < K; t++) {
    const nextTangents = tangents.map((u, j) => stepJvp(step, current, theta, u, directions[j]));
    tangents.forEach(disposeState);
    tangents = nextTangents;
    const next = tf.tidy(() => step(current, theta));
    disposeState(current);
    current = next;
  }
  const term = gradStateTheta(([x], th) => terminal(x, th), [current[0]], theta);
  const value = term.value.dataSync()[0];
  term.value.dispose();
  const grad = tf.tidy(() => {
    const direct = flattenParams(term.gTheta);
    const viaX = tf.stack(tangents.map((u) => tf.sum(tf.mul(term.gState[0], u[0]))));
    return unflattenParams(tf.add(direct, viaX), theta);
  });
  disposeParams(term.gTheta);
  disposeState(term.gState);
  tangents.forEach(disposeState);
  directions.forEach(disposeParams);
  const xT = current[0].clone();
  disposeState(current);
  return { value, grad, xT, counts: { jvps: P * K } };
};

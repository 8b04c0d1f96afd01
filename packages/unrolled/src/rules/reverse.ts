import { tf, addParams, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { advance, disposeState, gradStateTheta } from '../internal/steps.js';
import type { State, StepMap } from '../internal/steps.js';
import type { UnrolledMemory } from '../internal/config.js';
import type { Sweep, SweepFn } from './sweep.js';

/** Segment length of the checkpoint schedule over K differentiated steps (K when 'full'). */
export function segmentLength(memory: UnrolledMemory, K: number): number {
  if (memory === 'full') return K;
  if ('checkpoint' in memory) return Math.max(1, Math.ceil(Math.sqrt(K)));
  return Math.min(memory.checkpointEvery, K);
}

/** One tape over all K steps (memory O(K) states). */
function fullTape(step: StepMap, start: State, theta: Params, K: number, terminal: (x: tf.Tensor, theta: Params) => tf.Tensor): Sweep {
  let xT: tf.Tensor | undefined;
  let taped;
  try {
    taped = gradStateTheta(
      (s, th) => {
        let current = s;
        for (let t = 0; t < K; t++) current = step(current, th);
        xT = tf.keep(current[0].clone());
        return terminal(current[0], th);
      },
      start,
      theta,
    );
  } catch (e) {
    // A throwing terminal (the user's loss) must not leave x_T kept.
    xT?.dispose();
    throw e;
  }
  const { value, gState, gTheta } = taped;
  disposeState(gState);
  const v = value.dataSync()[0];
  value.dispose();
  return { value: v, grad: gTheta, xT: xT!, counts: { vjps: K } };
}

/**
 * Checkpointed reverse sweep: keep every `segment`-th state in one untaped forward sweep,
 * then one short tape per segment, newest first (memory O(K/segment + segment) states,
 * one extra forward sweep).
 */
function checkpointed(step: StepMap, start: State, theta: Params, K: number, segment: number, terminal: (x: tf.Tensor, theta: Params) => tf.Tensor): Sweep {
  const checkpoints: State[] = [start];
  const lengths: number[] = [];
  let current = start;
  for (let t0 = 0; t0 < K; t0 += segment) {
    const len = Math.min(segment, K - t0);
    lengths.push(len);
    const next = advance(step, current, theta, len, false);
    if (t0 + len < K) checkpoints.push(next);
    current = next;
  }
  const finalState = current;
  // Terminal gradient: λ_K = ∂ℓ/∂x_T (other state entries get zero cotangent).
  const term = gradStateTheta(([x], th) => terminal(x, th), [finalState[0]], theta);
  const value = term.value.dataSync()[0];
  term.value.dispose();
  let lambda: State = [term.gState[0], ...finalState.slice(1).map((s) => tf.zerosLike(s))];
  let grad = term.gTheta;
  const xT = finalState[0].clone();
  disposeState(finalState);
  for (let m = checkpoints.length - 1; m >= 0; m--) {
    const cot = lambda;
    const len = lengths[m];
    const seg = gradStateTheta(
      (s, th) => {
        let c = s;
        for (let t = 0; t < len; t++) c = step(c, th);
        let acc: tf.Tensor = tf.scalar(0);
        c.forEach((ci, i) => (acc = tf.add(acc, tf.sum(tf.mul(ci, cot[i])))));
        return acc;
      },
      checkpoints[m],
      theta,
    );
    seg.value.dispose();
    disposeState(cot);
    if (m > 0) disposeState(checkpoints[m]);
    const summed = addParams(grad, seg.gTheta);
    disposeParams(grad);
    disposeParams(seg.gTheta);
    grad = summed;
    lambda = seg.gState;
  }
  disposeState(lambda);
  return { value, grad, xT, counts: { vjps: K, recomputed: K } };
}

/**
 * Reverse mode (backpropagation) through the K steps: the adjoint
 * `λ_t = λ_{t+1} − s∇²ₓₓΦ(x_t)λ_{t+1}` accumulates `−s(∇²_{xθ}Φ)ᵀλ_{t+1}` (plus the θ-dependence
 * of s), all by tfjs autodiff of the step map; full tape or checkpointed by `memory`.
 *
 * @param memory - `'full'`, `{ checkpoint: 'sqrt' }` or `{ checkpointEvery: k }`.
 * @returns the sweep.
 */
export function reverseSweep(memory: UnrolledMemory): SweepFn {
  return (step, start, theta, K, terminal) => {
    const segment = segmentLength(memory, K);
    return segment >= K ? fullTape(step, start, theta, K, terminal) : checkpointed(step, start, theta, K, segment, terminal);
  };
}

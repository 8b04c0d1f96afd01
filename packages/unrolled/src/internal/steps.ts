import { tf, keysOf, jvp, withIsolatedTape } from '@bilevel/core';
import type { Params, Problem, FixedPointProblem } from '@bilevel/core';

/**
 * The state of an unrolled solver: `[x]` for gradient descent and fixed-point iteration,
 * `[x_t, x_{t−1}]` for the momentum methods. Every entry has the shape of x.
 */
export type State = tf.Tensor[];

/** One differentiable solver step `s_{t+1} = S(s_t; θ)` (builds new tensors, consumes nothing). */
export type StepMap = (state: State, theta: Params) => State;

/** Step size: a constant or a differentiable function of θ. */
export type StepSize = number | ((theta: Params) => tf.Scalar);

export type Method = 'gd' | 'heavy-ball' | 'nesterov';

/** Builds the step map of `method` on `problem` (the gradient is taken with a nested tf.grad, so the step is itself differentiable). */
export function makeStep<D>(
  problem: Problem<D> | FixedPointProblem<D>,
  data: D,
  method: Method,
  stepSize: StepSize,
  momentum: number,
): { step: StepMap; stateSize: number } {
  if (problem.kind === 'fixed-point') {
    return { step: ([x], theta) => [problem.map(x, theta, data)], stateSize: 1 };
  }
  const gradient = (x: tf.Tensor, theta: Params): tf.Tensor =>
    tf.grad((z: tf.Tensor) => problem.energy(z, theta, data))(x);
  const size = (theta: Params): tf.Scalar | number => (typeof stepSize === 'number' ? stepSize : stepSize(theta));
  if (method === 'gd') {
    return { step: ([x], theta) => [tf.sub(x, tf.mul(size(theta), gradient(x, theta)))], stateSize: 1 };
  }
  if (method === 'heavy-ball') {
    return {
      step: ([x, xPrev], theta) => [
        tf.add(tf.sub(x, tf.mul(size(theta), gradient(x, theta))), tf.mul(momentum, tf.sub(x, xPrev))),
        tf.clone(x),
      ],
      stateSize: 2,
    };
  }
  return {
    step: ([x, xPrev], theta) => {
      const y = tf.add(x, tf.mul(momentum, tf.sub(x, xPrev)));
      return [tf.sub(y, tf.mul(size(theta), gradient(y, theta))), tf.clone(x)];
    },
    stateSize: 2,
  };
}

/** Initial state from x0: momentum methods start with x_{−1} = x_0. */
export function initialState(x0: tf.Tensor, stateSize: number): State {
  return Array.from({ length: stateSize }, () => x0.clone());
}

export function disposeState(s: State | undefined): void {
  if (s != null) for (const t of s) t.dispose();
}

/** Advances `state` by `steps` steps without recording a tape; consumes `state` when `consume`. */
export function advance(step: StepMap, state: State, theta: Params, steps: number, consume: boolean): State {
  let current = state;
  for (let t = 0; t < steps; t++) {
    const next = tf.tidy(() => step(current, theta));
    if (consume || t > 0) disposeState(current);
    current = next;
  }
  if (steps === 0 && !consume) return current.map((s) => s.clone());
  return current;
}

/**
 * Joint gradient of `f(state, θ)` (a scalar) w.r.t. the state entries and the θ leaves,
 * recorded on one tape at the caller's gradient depth. Leaves f ignores get zeros.
 */
export function gradStateTheta(
  f: (state: State, theta: Params) => tf.Tensor,
  state: State,
  theta: Params,
): { value: tf.Scalar; gState: State; gTheta: Params } {
  const keys = keysOf(theta);
  const leaves = [...state, ...keys.map((k) => theta[k])];
  // Core's tape isolation: restores the caller's tape, and releases what a throwing f left on a new one.
  return withIsolatedTape(() => {
    let value!: tf.Scalar;
    const grads = tf.tidy(() => {
      const { value: v, grads: gs } = tf.engine().gradients(
        () => {
          const s = leaves.slice(0, state.length);
          const th: Params = {};
          keys.forEach((k, i) => (th[k] = leaves[state.length + i]));
          return f(s, th);
        },
        leaves,
        undefined,
        true,
      );
      value = tf.keep(v as tf.Scalar);
      return gs.map((g, i) => (g == null ? tf.zerosLike(leaves[i]) : g));
    });
    const gTheta: Params = {};
    keys.forEach((k, i) => (gTheta[k] = grads[state.length + i]));
    return { value, gState: grads.slice(0, state.length), gTheta };
  });
}

/**
 * Joint JVP of the step map in direction (u, e) where u perturbs the state and e perturbs θ:
 * `d/dε S(s + εu; θ + εe)` at ε = 0, by the double-VJP trick of core's `jvp`.
 */
export function stepJvp(step: StepMap, state: State, theta: Params, u: State, e: Params): State {
  return tf.tidy(() => {
    const keys = keysOf(theta);
    // A one-entry tf.stack/unstack breaks tfjs's second-order Unpack gradient, so the state
    // is flattened with concat (whose gradient, split, differentiates cleanly).
    const sizes = state.map((x) => x.size);
    const out = jvp(
      (eps: tf.Tensor) => {
        const s = state.map((x, i) => tf.add(x, tf.mul(eps, u[i])));
        const th: Params = {};
        for (const k of keys) th[k] = tf.add(theta[k], tf.mul(eps, e[k]));
        const next = step(s, th);
        return next.length === 1 ? next[0] : tf.concat(next.map((x) => tf.reshape(x, [-1])));
      },
      tf.scalar(0),
      tf.scalar(1),
    );
    if (state.length === 1) return [out];
    return tf.split(out, sizes).map((x, i) => tf.reshape(x, state[i].shape));
  });
}

/**
 * bilevel's side of bench:peer: the workloads of workloads.ts through the library's public
 * API (the problem's derivatives; one hypergradient by `hypergradient` with the implicit
 * strategy, gradientDescent and cg at fixed iteration counts), timed in blocks with the CPU
 * time of every call.
 */
import { performance } from 'node:perf_hooks';
import { tf, hypergradient, gradientDescent, cg, disposeParams, convergencePolicy } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
import { implicit } from '@bilevel/implicit';
import { GD_STEPS, CG_STEPS } from './workloads.js';
import type { Block } from './rounds.js';

/** `reps` timed calls of `fn` (each result handed to `done`): wall and CPU ms (process.cpuUsage) of each call. */
export function block<T>(fn: () => T, reps: number, done: (out: T) => void): Block {
  const ms: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    done(fn());
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpuMs.push((c.user + c.system) / 1000);
  }
  return { ms, cpuMs };
}

/** Reads tensors to arrays and frees them (the "wait for the result" of a timed call). */
export const settle = (ts: tf.Tensor[]) => {
  for (const t of ts) t.dataSync();
  tf.dispose(ts);
};

type Data = { y: tf.Tensor };

/** The primitives every benchmark times, in this order. */
export const OPS = ['gradient', 'hvp', 'hvp in CG', 'mixed'] as const;
export type Op = (typeof OPS)[number];

/**
 * One call of each primitive of `problem` at (clean, θ, y) in direction v: the gradient, the one-shot HVP, one
 * product of the Hessian prepared at x (what a CG iteration costs), and the mixed product (one tensor per θ key,
 * in θ's key order). The caller disposes `hessian`.
 */
export function primitiveCalls(problem: Problem<Data>, c: { clean: tf.Tensor; y: tf.Tensor; v: tf.Tensor; theta: Params }) {
  const data = { y: c.y };
  const keys = Object.keys(c.theta);
  const hessian = problem.hessianAt(c.clean, c.theta, data);
  const calls: Record<Op, () => tf.Tensor[]> = {
    gradient: () => [problem.gradient(c.clean, c.theta, data)],
    hvp: () => [problem.hvp(c.clean, c.theta, data, c.v)],
    'hvp in CG': () => [hessian.apply(c.v)],
    mixed: () => {
      const m = problem.mixed(c.clean, c.theta, data, c.v);
      return keys.map((k) => m[k]!);
    },
  };
  return { calls, hessian };
}

/** ℓ = (1/n)·½‖x − clean‖². */
export const lossOf = (clean: tf.Tensor) => (x: tf.Tensor) => tf.div(tf.mul(0.5, tf.sum(tf.square(tf.sub(x, clean)))), x.shape[0]!);

/**
 * The convergence policy of a run at fixed work: core's `'warn'` as for every other call (the result stays flagged
 * unconverged, the first one is printed, the rest counted), its warning saying that stopping at the caps is the
 * design. gradientDescent and cg have no fixed-steps mode (they always measure a residual, and the peers' loops do
 * the same work), so the fixed work is tolerances out of reach; what is not by design is checked by the caller.
 *
 * @param work - the fixed work, for the warning, e.g. `'100 GD + 30 CG steps'`.
 * @returns a policy to pass as `onNotConverged`.
 */
export const fixedWorkPolicy = (work: string) =>
  convergencePolicy('warn', `fixed work by design: ${work}, the tolerance 1e-30 out of float32's reach, so stopping at the caps is expected`);

const IDENTICAL_WORK = fixedWorkPolicy(`${GD_STEPS} GD + ${CG_STEPS} CG steps`);

/**
 * One implicit hypergradient at identical work: 100 GD steps from y at a fixed step, 30 CG
 * steps, one mixed product (tolerances far below reach, so the iteration counts decide).
 * Throws when the solves stopped anywhere but the caps (a NaN, a CG breakdown): that work is not identical.
 */
export function identicalWork(problem: Problem<Data>, theta: Params, y: tf.Tensor, clean: tf.Tensor, step: number) {
  const strategy = implicit({
    inner: gradientDescent({ step, maxIter: GD_STEPS }),
    linear: cg({ maxIter: CG_STEPS }),
    tol: 1e-30, linearTol: 1e-30, warmStart: false,
  });
  const loss = lossOf(clean);
  const r = hypergradient({ problem, theta, data: { y }, loss: (x) => loss(x), strategy, onNotConverged: IDENTICAL_WORK });
  strategy.dispose();
  const { innerIterations, linearIterations } = r.work;
  if (innerIterations !== GD_STEPS || linearIterations !== CG_STEPS || !Number.isFinite(r.value)) {
    const message = `identicalWork: expected exactly ${GD_STEPS} GD + ${CG_STEPS} CG steps and a finite value, got ${innerIterations} + ${linearIterations}, value ${r.value} (${r.status}: ${r.message}).`;
    r.dispose();
    throw new Error(message);
  }
  return r;
}

/** Adam (Kingma & Ba 2015, Algorithm 1), written like the peers' common.py. */
export function adam(lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-8) {
  let t = 0;
  const m: Params = {};
  const v: Params = {};
  const step = (theta: Params, g: Params): Params => tf.tidy(() => {
    t += 1;
    const out: Params = {};
    for (const k of Object.keys(theta)) {
      const mk = tf.add(tf.mul(b1, m[k] ?? tf.zerosLike(g[k])), tf.mul(1 - b1, g[k]));
      const vk = tf.add(tf.mul(b2, v[k] ?? tf.zerosLike(g[k])), tf.mul(1 - b2, tf.square(g[k])));
      if (m[k] != null) tf.dispose([m[k], v[k]]);
      m[k] = tf.keep(mk);
      v[k] = tf.keep(vk);
      out[k] = tf.sub(theta[k], tf.div(tf.mul(lr, tf.div(mk, 1 - b1 ** t)), tf.add(tf.sqrt(tf.div(vk, 1 - b2 ** t)), eps)));
    }
    return out;
  });
  return Object.assign(step, { dispose: () => tf.dispose([...Object.values(m), ...Object.values(v)]) });
}

export { disposeParams };

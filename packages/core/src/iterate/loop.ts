/**
 * The one iteration loop every solver of bilevel runs on: inner (GD, accelerated, L-BFGS),
 * linear (CG, GMRES, Richardson, Neumann), fixed-point (Picard, Anderson, Broyden), and the
 * primal–dual and adjoint iterations of piggyback. A solver is `init / step / residual`
 * (Optimistix's `iterative_solve`, JAXopt's `while_loop`); this loop owns what each of them
 * used to repeat: the tolerance test, the cap, float32-stall detection, NaN/Inf detection,
 * the tensor lifetime of the state, the work counter, the callback and the status message.
 *
 * @packageDocumentation
 */
import { tf } from '../tf.js';
import { statusMessage, type StatusCode } from '../status.js';
import type { IterateOptions, IterateOutcome, IterativeMethod, Step } from './types.js';
import { checkOptions, opt } from '../options.js';

// Kinds only where a wrong one would fail late; the values are the solver's (already checked).
const ITERATE_SCHEMA = {
  threshold: opt.union([opt.number({ min: 0, finite: false }), opt.func()]), maxIter: opt.integer({ min: 0 }), stallIterations: opt.integer({ min: 0 }),
  onIteration: opt.func(), work: opt.any(), facts: opt.any(),
};

/** A 1% drop of the best residual counts as progress for the stall test. */
const PROGRESS = 0.99;

/** Every tensor reachable from a state (fields, arrays, nested records up to depth 4). */
export function tensorsOf(value: unknown, out: Set<tf.Tensor> = new Set(), depth = 0): Set<tf.Tensor> {
  if (value instanceof tf.Tensor) out.add(value);
  else if (Array.isArray(value)) for (const v of value) tensorsOf(v, out, depth + 1);
  else if (value != null && typeof value === 'object' && depth < 4) for (const v of Object.values(value)) tensorsOf(v, out, depth + 1);
  return out;
}

/**
 * Disposes the tensors of `old` that `next` does not hold (`next = null`: all of them).
 *
 * @param old - the state being replaced.
 * @param next - the state replacing it, or null.
 * @example
 * ```ts
 * disposeReplaced(state, null); // release a whole state
 * ```
 */
export function disposeReplaced(old: unknown, next: unknown): void {
  const keep = tensorsOf(next);
  for (const t of tensorsOf(old)) if (!keep.has(t) && !t.isDisposed) t.dispose();
}

/**
 * Runs an {@link IterativeMethod} to convergence, the cap, a stall, a NaN/Inf or a stop
 * requested by a step or the callback.
 *
 * Per iteration k (from 0): converged if `residual ≤ threshold` (and `confirm` agrees);
 * else `'max-iterations'` if `k ≥ maxIter` (`'fixed-steps'` when the method measures no
 * residual); else `'stalled'` if the best residual has not dropped by 1% in
 * `stallIterations`; else one `step`, run under `tf.tidy`, so a step's temporaries are
 * freed whatever it forgets. A new state with a non-finite residual is discarded and the
 * loop stops with `'nan'` at the last finite state. When anything throws, every tensor the
 * loop made is released before the error propagates.
 *
 * @param method - the solver's `init`, `step`, `residual` (and optional `confirm`).
 * @param options - `threshold`, `maxIter`, `stallIterations`, `onIteration`, `work`, `facts`.
 * @returns the final state (owned by the caller), iterations, status and message.
 * @example
 * ```ts
 * // Richardson on a 1-D system a·x = b: x ← x + s(b − a x).
 * const a = 4, b = 2, s = 0.2;
 * const out = iterate({
 *   init: () => ({ x: tf.scalar(0), r: b }),
 *   step: ({ x, r }) => { const xn = tf.add(x, s * r); return { state: { x: xn, r: b - a * xn.dataSync()[0] } }; },
 *   residual: ({ r }) => Math.abs(r),
 * }, { threshold: 1e-6, maxIter: 100, facts: { where: 'richardson1d' } });
 * out.state.x.dispose();
 * ```
 */
export function iterate<S>(method: IterativeMethod<S>, options: IterateOptions<S>): IterateOutcome<S> {
  checkOptions('iterate', options, ITERATE_SCHEMA);
  const started = performance.now();
  let outcome!: IterateOutcome<S>;
  // The outer tidy is the safety net: a throwing init/step/confirm/callback releases every
  // tensor made here; on success only the final state's tensors leave it.
  tf.tidy(() => {
    outcome = run(method, options);
    return [...tensorsOf(outcome.state)];
  });
  if (options.work != null) {
    options.work.record[options.work.key] = outcome.iterations;
    options.work.record.timeMs = performance.now() - started;
  }
  return outcome;
}

function run<S>(method: IterativeMethod<S>, options: IterateOptions<S>): IterateOutcome<S> {
  const { maxIter } = options;
  const stallIterations = options.stallIterations ?? 0;
  let state = method.init();
  let residual = method.residual(state);
  const threshold = typeof options.threshold === 'function' ? options.threshold(residual) : options.threshold;
  let iterations = 0;
  let status: StatusCode | undefined;
  let detail: string | undefined;
  let best = residual;
  let bestAt = 0;
  if (residual !== undefined && !Number.isFinite(residual)) {
    status = 'nan';
    detail = 'the starting point';
  }
  while (status === undefined) {
    if (residual !== undefined && residual <= threshold) {
      const verdict = method.confirm?.(state) ?? { converged: true as const };
      if (verdict.converged) {
        status = 'converged';
        break;
      }
      disposeReplaced(state, verdict.state);
      state = verdict.state;
      residual = method.residual(state);
    }
    if (iterations >= maxIter) {
      status = residual === undefined ? 'fixed-steps' : 'max-iterations';
      break;
    }
    if (residual !== undefined && best !== undefined) {
      if (residual < PROGRESS * best) {
        best = residual;
        bestAt = iterations;
      } else if (stallIterations > 0 && iterations - bestAt >= stallIterations) {
        status = 'stalled';
        break;
      }
    }
    const current = state;
    const step = tf.tidy(() => method.step(current, { iteration: iterations, maxIter }) as unknown as tf.TensorContainer) as unknown as Step<S>;
    iterations += step.count ?? ('state' in step ? 1 : 0);
    if (!('state' in step)) {
      ({ status, detail } = step.stop);
      break;
    }
    const nextResidual = method.residual(step.state);
    if (nextResidual !== undefined && !Number.isFinite(nextResidual)) {
      disposeReplaced(step.state, state);
      status = 'nan';
      detail = 'returning the last finite iterate';
      break;
    }
    disposeReplaced(state, step.state);
    state = step.state;
    residual = nextResidual;
    if (best === undefined) best = residual;
    if (step.stop != null) {
      ({ status, detail } = step.stop);
      break;
    }
    if (options.onIteration?.({ iteration: iterations, residual, state }) === true) {
      status = 'stopped';
      break;
    }
  }
  const message = statusMessage(status, {
    where: 'iterate',
    ...options.facts,
    iterations,
    residual,
    threshold,
    maxIter,
    best,
    stallIterations,
    detail,
  });
  return { state, iterations, status, residual, threshold, best, detail, message };
}

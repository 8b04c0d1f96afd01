/**
 * One training loop for every upper-level method: budgets, progress events (callback and
 * async iterator), a stop signal, checkpoints in any {@link CheckpointStore} and exact
 * resumption.
 *
 * @packageDocumentation
 */
import { addWork, workUnits, type SamplePool, type OnNotConverged, type Data, type Loss, type Params, type Problem, type FixedPointProblem, type SaddleProblem, type Strategy, type Work } from '@bilevel/core';
import type { Method, MethodStateBase, Oracle, ParamsArrays, Proximal, StopReason } from './types.js';
import type { OracleConstants } from './oracle.js';
import type { Reparameterisation, Regularizer } from './transforms.js';
import type { CheckpointOptions } from './checkpoint.js';
import type { ResumeOptions } from './internal/train/resume.js';
import { runWriter, type StoredState } from './internal/checkpoint/run-store.js';
import { copyArrays } from './internal/util.js';
import { nextTurn } from './internal/port.js';
import { checkTrainOptions, trainingOracle, startState, WHERE } from './internal/train/setup.js';
import { budgetStop, progressEvent, finalTheta } from './internal/train/iteration.js';
import { claimStrategy } from './internal/train/exclusive.js';

/** A random id for a fresh run (not part of its trajectory: it only ties the history file to its state). */
function newRunId(): string {
  return Array.from({ length: 4 }, () => Math.floor(Math.random() * 0x10000).toString(16).padStart(4, '0')).join('');
}

/** The part of an `AbortSignal` that {@link train} reads (so any `{ aborted }` object works). */
export interface StopSignal {
  readonly aborted: boolean;
}

/** Budget of a training run; the first one reached stops it. At least one is required. */
export interface Budget {
  /** Upper-level iterations (method steps), counted across resumes. */
  iterations?: number;
  /** Computational work: inner + linear iterations (the papers' unit), cumulative. */
  work?: number;
  /** Wall-clock seconds, cumulative across resumes (the only wall-clock-dependent decision). */
  seconds?: number;
}

/** One progress event per upper-level iteration. */
export interface ProgressEvent {
  /** 0-based index of the iteration. */
  iteration: number;
  /** F̃(θ_k) (+ J(θ_k)) at the iterate where the gradient was taken. */
  loss: number;
  /** ‖h_k‖. */
  gradNorm: number;
  /** Certified bound on ‖h_k − ∇F(θ_k)‖ (NaN when unavailable). */
  bound: number;
  /** Inner accuracy ε (oracle `tol`) and adjoint accuracy δ (`linearTol`) used. */
  eps: number;
  delta: number;
  /** Step size taken (0 if θ did not move). */
  step: number;
  accepted: boolean;
  /** Cumulative work units (inner + linear iterations) so far. */
  work: number;
  /** Oracle calls of this iteration. */
  evaluations: number;
  /** Cumulative wall time in ms (across resumes). */
  timeMs: number;
  /** Whether every hypergradient (oracle call) of this iteration converged. */
  converged?: boolean;
  /** `'converged'` or the status of the first unconverged call (`'forward-not-converged'`, ...). */
  status?: string;
  /** Unconverged oracle calls of this iteration. */
  unconverged?: number;
}

/** Options of {@link train}: give `oracle`, or `problem` + `strategy` + `data` + `loss`. */
export interface TrainOptions<S extends MethodStateBase = MethodStateBase, D = Data> {
  method: Method<S>;
  oracle?: Oracle;
  /** The lower level: an energy, a fixed point, or a saddle point (with a saddle-point strategy such as `piggyback()`). */
  problem?: Problem<D> | FixedPointProblem<D> | SaddleProblem<D>;
  strategy?: Strategy;
  data?: D;
  loss?: Loss<D>;
  batchData?: (batch: number[]) => D;
  /**
   * Run the lower-level solves on a pool instead of `problem` + `strategy` + `data` + `loss`:
   * `workerPool({ module, threads })` (`@bilevel/pool`) or `distributedPool(...)`
   * (`@bilevel/distributed`), with the same task module — see `oracleFromStrategy`'s `workers`.
   */
  workers?: SamplePool;
  /** Bound constants (numbers, or a function of θ and data), see {@link OracleConstants}. */
  constants?: OracleConstants<D>;
  /** Initial parameters θ₀ (in model space; not consumed). */
  theta0: Params;
  budget: Budget;
  /** Change of variables θ = T(φ); the method updates φ. */
  transform?: Reparameterisation;
  /** Regularisers J on the optimised variable: smooth ones join the oracle, proximal ones follow each step. */
  regularizer?: Regularizer | Regularizer[];
  /** Projection (constraint) applied after each step, after any proximal regulariser. */
  project?: Proximal | ((theta: Params) => Params);
  /** Called after every iteration with the event and the optimised variable (φ under a transform; read only). */
  onProgress?: (event: ProgressEvent, theta: ParamsArrays) => void;
  /** Custom stopping test, evaluated after every iteration (deterministic criteria only). */
  stop?: (event: ProgressEvent, theta: ParamsArrays) => boolean;
  /** Checkpoints: `{ store, key, every }` (`fileCheckpoint(path)` from `@bilevel/outer/node` for files). */
  checkpoint?: CheckpointOptions;
  /**
   * Continue from a checkpoint in `checkpoint.store` (`true`: `checkpoint.key`, if present; a
   * string: that key, which must exist; `{ key?, allowMismatch? }`: see {@link ResumeOptions}).
   * The checkpoint must come from the same run (its fingerprint: method and options, strategy
   * and options, θ's keys/shapes/dtypes, θ₀, the data): a mismatch is refused with the
   * differences named unless `allowMismatch` lists their parts. A finished run (stopped by its
   * method or `stop`) is returned as it is, without new iterations.
   */
  resume?: boolean | string | ResumeOptions;
  /**
   * Convergence policy of the oracle `train` builds from `problem` + `strategy` (core's
   * `OnNotConverged`, default `'warn'`: the first unconverged hypergradient is printed, and one
   * summary line at the end counts them all). A given `oracle` keeps its own policy; `train`
   * still records every call's status in the history and prints the count.
   */
  onNotConverged?: OnNotConverged;
  /**
   * Checked before every iteration, after yielding one event-loop turn (so a stop button on
   * the same page works): once `aborted` is true the run ends with status `'aborted'` (θ,
   * history and a final checkpoint as at any stop). An `AbortSignal` works.
   */
  signal?: StopSignal;
}

/** What {@link train} returns. The caller owns `theta` (dispose it). */
export interface TrainResult<S extends MethodStateBase = MethodStateBase> {
  /** Final parameters in model space (θ = T(φ) when a transform is used). */
  theta: Params;
  /** Final method state (its `theta` is the optimised variable φ). */
  state: S;
  history: ProgressEvent[];
  status: StopReason;
  message: string;
  /** Cumulative work (all counters). */
  work: Work;
}

/**
 * Runs `method` on the oracle until a budget is reached, the method stops, or `stop` says
 * so, yielding one {@link ProgressEvent} per iteration.
 *
 * Determinism: every decision depends only on the method state, the oracle (whose warm
 * starts are checkpointed through `saveState`) and the iteration/work counts, never on the
 * clock (except the `seconds` budget), so `resume` continues exactly the trajectory of an
 * uninterrupted run.
 *
 * @param options - {@link TrainOptions}.
 * @returns an async iterator of events whose return value is the {@link TrainResult}.
 * @example
 * ```ts
 * const run = trainSteps({ method: maid({ tol0: 0.1, step0: 1 }), oracle, theta0, budget: { iterations: 100 } });
 * for (let r = await run.next(); !r.done; r = await run.next()) console.log(r.value.loss);
 * ```
 */
export async function* trainSteps<S extends MethodStateBase, D = Data>(options: TrainOptions<S, D>): AsyncGenerator<ProgressEvent, TrainResult<S>, void> {
  // Refuse a strategy object another unfinished run is using (its warm starts would mix).
  const release = claimStrategy(WHERE, options?.strategy);
  try {
    return yield* runSteps(options);
  } finally {
    release();
  }
}

async function* runSteps<S extends MethodStateBase, D = Data>(options: TrainOptions<S, D>): AsyncGenerator<ProgressEvent, TrainResult<S>, void> {
  const { every, key } = checkTrainOptions(options);
  const { method, budget, checkpoint, signal } = options;
  const where = WHERE;
  const { oracle, base, proximal, convergence, policy } = trainingOracle(options);
  if (checkpoint?.store.prepare != null) {
    try {
      await checkpoint.store.prepare(key);
    } catch (e) {
      if ((e as Error).message.startsWith(`${where}:`)) throw e;
      throw new Error(`${where}: cannot write checkpoint '${key}' (${(e as Error).message}); choose a writable checkpoint.key.`, { cause: e });
    }
  }
  const { history, elapsedBefore, fingerprint, resumed, finished, ...initial } = await startState(options, base, key);
  let { state, work } = initial;
  if (finished != null) {
    const message = `${finished.message} (returned from the finished checkpoint '${resumed!.from}' without new iterations)`;
    return { theta: finalTheta(state.theta, options.transform), state, history, status: finished.status, message, work };
  }

  const start = performance.now();
  const elapsed = () => elapsedBefore + (performance.now() - start);
  const writer = checkpoint == null ? undefined : runWriter<S>(where, checkpoint.store, key, resumed?.checkpoint.run ?? newRunId(), resumed);
  const save = async (end?: { status: StopReason; message: string }) => {
    if (writer == null) return;
    const snapshot: Omit<StoredState<S>, 'history' | 'run'> = {
      format: 'bilevel-outer-checkpoint',
      version: 2,
      method: method.name,
      iterations: history.length,
      state,
      work,
      oracleState: base.saveState?.(),
      elapsedMs: elapsed(),
      fingerprint,
      ...(end != null && end.status !== 'aborted' ? { finished: end } : {}),
    };
    await writer.save(snapshot, history);
  };

  let status: StopReason;
  let message: string;
  for (;;) {
    // tfjs computes synchronously: yield one event-loop turn per iteration so that a stop
    // (a click, a worker message) and other work on this thread get through.
    await nextTurn();
    if (signal?.aborted === true) {
      status = 'aborted';
      message = `${where}: stopped by option 'signal' after ${history.length} iterations.`;
      break;
    }
    const budgetReached = budgetStop(budget, history.length, work, elapsed());
    if (budgetReached != null) {
      ({ status, message } = budgetReached);
      break;
    }
    const workLeft = budget.work != null ? budget.work - workUnits(work) : undefined;
    const { state: next, info } = method.step(state, oracle, { proximal, ...(workLeft != null ? { workLeft } : {}) });
    state = next;
    work = addWork(work, info.work);
    const event: ProgressEvent = { ...progressEvent(history.length, info, work, elapsed()), ...convergence.take() };
    history.push(event);
    options.onProgress?.(event, state.theta);
    yield event;
    if (info.stop != null) {
      status = info.stop;
      message = info.message ?? `${WHERE}: the method stopped (${info.stop}).`;
      break;
    }
    if (options.stop?.(event, copyArrays(state.theta))) {
      status = 'stopped';
      message = `${WHERE}: the 'stop' criterion was met at iteration ${event.iteration}.`;
      break;
    }
    if (checkpoint != null && history.length % every === 0) await save();
  }
  await save({ status, message });
  if (convergence.totals.unconverged > 0) {
    console.warn(
      policy?.summary(WHERE) ??
        `${WHERE}: ${convergence.totals.unconverged} of ${convergence.totals.calls} oracle calls did not converge (see history[i].status); raise the solvers' iteration caps or loosen the accuracies.`,
    );
  }
  return { theta: finalTheta(state.theta, options.transform), state, history, status, message, work };
}

/**
 * Trains θ: runs {@link trainSteps} to the end, calling `onProgress` on every event.
 *
 * @param options - {@link TrainOptions}.
 * @returns the {@link TrainResult} (the caller disposes `theta`).
 * @example
 * ```ts
 * const { theta, history, status } = await train({
 *   method: maid({ tol0: 1e-1, step0: 1 }),
 *   oracle,
 *   theta0: { w: tf.zeros([5]) },
 *   budget: { iterations: 200, work: 1e5 },
 *   checkpoint: { store: memoryStore(), key: 'maid', every: 10 },   // fileCheckpoint('runs/maid.json', 10) in Node
 *   resume: true,
 *   signal: controller.signal,                                    // controller.abort() stops it
 *   onProgress: (e) => console.log(e.iteration, e.loss, e.eps, e.work),
 * });
 * ```
 */
export async function train<S extends MethodStateBase, D = Data>(options: TrainOptions<S, D>): Promise<TrainResult<S>> {
  const run = trainSteps(options);
  for (;;) {
    const r = await run.next();
    if (r.done) return r.value;
  }
}


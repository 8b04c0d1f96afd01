/**
 * One training loop for every upper-level method: budgets, progress events (callback and
 * async iterator), a stop signal, checkpoints in any {@link CheckpointStore} and exact
 * resumption.
 *
 * @packageDocumentation
 */
import { addWork, emptyWork, workUnits, disposeParams, convergencePolicy, type OnNotConverged, type Data, type Loss, type Params, type Problem, type FixedPointProblem, type SaddleProblem, type Strategy, type Work } from '@bilevel/core';
import type { Method, MethodStateBase, Oracle, ParamsArrays, Proximal, StopReason } from './types.js';
import { oracleFromStrategy, type OracleConstants } from './oracle.js';
import type { BoundConstants } from './bounds.js';
import { reparameterise, withRegularizer, proximalOf, projection, composeProximal, type Reparameterisation, type Regularizer } from './transforms.js';
import { fromArrays, copyArrays, checkKeys, checkInt, checkRange } from './internal/util.js';
import { recordConvergence } from './internal/convergence.js';
import { nextTurn } from './internal/port.js';
import { DEFAULT_CHECKPOINT_KEY, encodeCheckpoint, loadCheckpoint, type Checkpoint, type CheckpointOptions } from './checkpoint.js';

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
  /** Continue from a checkpoint in `checkpoint.store` (`true`: `checkpoint.key`, if present; a string: that key, which must exist). */
  resume?: boolean | string;
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

const KEYS = ['method', 'oracle', 'problem', 'strategy', 'data', 'loss', 'batchData', 'constants', 'theta0', 'budget', 'transform', 'regularizer', 'project', 'onProgress', 'stop', 'checkpoint', 'resume', 'onNotConverged', 'signal'] as const;

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
  const where = 'train';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: options must be an object { method, oracle | (problem, strategy, data, loss), theta0, budget }.`);
  checkKeys(where, options, KEYS);
  const { method, theta0, budget } = options;
  if (method == null || typeof method.init !== 'function' || typeof method.step !== 'function') {
    throw new Error(`${where}: option 'method' must be an upper-level method such as maid(...), hoag(...), sgd(...), adam(...).`);
  }
  if (theta0 == null || typeof theta0 !== 'object') throw new Error(`${where}: option 'theta0' must be a Params tree { name: tf.Tensor }.`);
  if (budget == null || typeof budget !== 'object' || (budget.iterations == null && budget.work == null && budget.seconds == null)) {
    throw new Error(`${where}: option 'budget' needs at least one of iterations, work, seconds, e.g. budget: { iterations: 100 }.`);
  }
  checkKeys(where, budget, ['iterations', 'work', 'seconds'], 'budget.');
  if (budget.iterations != null) checkInt(where, 'budget.iterations', budget.iterations, 0, 'give a non-negative iteration count');
  if (budget.work != null) checkRange(where, 'budget.work', budget.work, 0, Infinity, false, true, 'give non-negative work units');
  if (budget.seconds != null) checkRange(where, 'budget.seconds', budget.seconds, 0, Infinity, false, true, 'give non-negative seconds');
  const every = options.checkpoint?.every ?? 1;
  const checkpoint = options.checkpoint;
  const key = checkpoint?.key ?? DEFAULT_CHECKPOINT_KEY;
  if (checkpoint != null) {
    if ('path' in checkpoint) {
      throw new Error(`${where}: option 'checkpoint.path' is gone (files are Node-only); use checkpoint: fileCheckpoint(path, every) from '@bilevel/outer/node', or { store, key, every }.`);
    }
    checkKeys(where, checkpoint, ['store', 'key', 'every'], 'checkpoint.');
    if (checkpoint.store == null || typeof checkpoint.store.read !== 'function' || typeof checkpoint.store.write !== 'function') {
      throw new Error(`${where}: option 'checkpoint.store' must be a store { read(key), write(key, bytes) }: memoryStore(), or fileStore() / fileCheckpoint(path) from '@bilevel/outer/node' for files.`);
    }
    if (typeof key !== 'string' || key === '') throw new Error(`${where}: option 'checkpoint.key' must be a non-empty string (a file path for fileStore()).`);
    checkInt(where, 'checkpoint.every', every, 1, 'checkpoint every ≥ 1 iterations');
  }
  if (options.resume != null && typeof options.resume !== 'boolean' && (typeof options.resume !== 'string' || options.resume === '')) {
    throw new Error(`${where}: option 'resume' must be true (resume from checkpoint.key) or a key in checkpoint.store.`);
  }
  if (options.resume != null && options.resume !== false && checkpoint == null) {
    throw new Error(`${where}: option 'resume' needs 'checkpoint' (the store to read), e.g. checkpoint: fileCheckpoint('run.json') from '@bilevel/outer/node', or { store: memoryStore(), key }.`);
  }
  const signal = options.signal;
  if (signal != null && typeof signal.aborted !== 'boolean') throw new Error(`${where}: option 'signal' must be an AbortSignal (or any { aborted: boolean }).`);

  // The oracle in the optimised variable, with smooth regularisers folded in.
  let oracle: Oracle;
  const policy = options.oracle == null ? convergencePolicy(options.onNotConverged ?? 'warn', `${where}: later unconverged hypergradients of this run are counted; summary at the end`) : undefined;
  if (options.oracle != null) {
    if (options.problem != null || options.strategy != null) throw new Error(`${where}: give either 'oracle' or 'problem' + 'strategy' + 'data' + 'loss', not both.`);
    if (typeof options.oracle !== 'function') throw new Error(`${where}: option 'oracle' must be a function (theta, { tol, linearTol }, options?) => OracleResult.`);
    oracle = options.oracle;
  } else {
    if (options.problem == null || options.strategy == null || options.data == null || options.loss == null) {
      throw new Error(`${where}: give option 'oracle', or all of 'problem', 'strategy', 'data' and 'loss'.`);
    }
    oracle = oracleFromStrategy<D>({ problem: options.problem, strategy: options.strategy, data: options.data, loss: options.loss, batchData: options.batchData, constants: options.constants, onNotConverged: policy });
  }
  const baseOracle = oracle;
  const convergence = recordConvergence(oracle);
  oracle = convergence.oracle;
  if (options.transform != null) oracle = reparameterise(oracle, options.transform);
  const regs = options.regularizer == null ? [] : Array.isArray(options.regularizer) ? options.regularizer : [options.regularizer];
  const proximalParts: Proximal[] = [];
  for (const r of regs) {
    if (r == null || (r.kind !== 'smooth' && r.kind !== 'proximal')) throw new Error(`${where}: option 'regularizer' must be made by l1(...), l2(...) or be a Regularizer.`);
    if (r.kind === 'smooth') oracle = withRegularizer(oracle, r);
    else proximalParts.push(proximalOf(r));
  }
  if (options.project != null) proximalParts.push(typeof options.project === 'function' ? projection(options.project) : options.project);
  const proximal = composeProximal(...proximalParts);

  // Initial or resumed state.
  let state: S;
  let history: ProgressEvent[] = [];
  let work = emptyWork();
  let elapsedBefore = 0;
  const resumeKey = options.resume === true ? key : typeof options.resume === 'string' ? options.resume : undefined;
  const ckpt = resumeKey == null ? undefined : await loadCheckpoint<S>(checkpoint!.store, resumeKey);
  if (ckpt == null && typeof options.resume === 'string') {
    throw new Error(`${where}: resume checkpoint '${resumeKey}' does not exist in checkpoint.store; pass resume: true to start fresh when there is no checkpoint.`);
  }
  if (ckpt != null) {
    if (ckpt.method !== method.name) throw new Error(`${where}: checkpoint '${resumeKey}' was written by method '${ckpt.method}', not '${method.name}'; resume with the same method.`);
    state = ckpt.state;
    history = ckpt.history;
    work = addWork(ckpt.work);
    elapsedBefore = ckpt.elapsedMs;
    if (ckpt.oracleState !== undefined) {
      if (baseOracle.loadState == null) throw new Error(`${where}: the checkpoint holds oracle warm-start state but this oracle has no loadState(); use the same kind of oracle to resume.`);
      baseOracle.loadState(ckpt.oracleState);
    }
  } else {
    let phi0 = theta0;
    if (options.transform != null) phi0 = options.transform.inverse(theta0);
    state = method.init(phi0);
    if (phi0 !== theta0) disposeParams(phi0);
  }

  const start = performance.now();
  const elapsed = () => elapsedBefore + (performance.now() - start);
  const save = async () => {
    if (checkpoint == null) return;
    const snapshot: Checkpoint<S> = {
      format: 'bilevel-outer-checkpoint',
      version: 1,
      method: method.name,
      iterations: history.length,
      state,
      work,
      history,
      oracleState: baseOracle.saveState?.(),
      elapsedMs: elapsed(),
    };
    await checkpoint.store.write(key, encodeCheckpoint(snapshot));
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
    if (budget.iterations != null && history.length >= budget.iterations) {
      status = 'budget-iterations';
      message = `${where}: reached budget.iterations = ${budget.iterations}.`;
      break;
    }
    if (budget.work != null && workUnits(work) >= budget.work) {
      status = 'budget-work';
      message = `${where}: reached budget.work = ${budget.work} (inner + linear iterations).`;
      break;
    }
    if (budget.seconds != null && elapsed() >= budget.seconds * 1000) {
      status = 'budget-seconds';
      message = `${where}: reached budget.seconds = ${budget.seconds}.`;
      break;
    }
    const { state: next, info } = method.step(state, oracle, { proximal });
    state = next;
    work = addWork(work, info.work);
    const event: ProgressEvent = {
      iteration: history.length,
      loss: info.value,
      gradNorm: info.gradNorm,
      bound: info.bound,
      eps: info.tol,
      delta: info.linearTol,
      step: info.step,
      accepted: info.accepted,
      work: workUnits(work),
      evaluations: info.evaluations,
      timeMs: elapsed(),
      ...convergence.take(),
    };
    history.push(event);
    options.onProgress?.(event, state.theta);
    yield event;
    if (info.stop != null) {
      status = info.stop;
      message = info.message ?? `${where}: the method stopped (${info.stop}).`;
      break;
    }
    if (options.stop?.(event, copyArrays(state.theta))) {
      status = 'stopped';
      message = `${where}: the 'stop' criterion was met at iteration ${event.iteration}.`;
      break;
    }
    if (checkpoint != null && history.length % every === 0) await save();
  }
  await save();
  if (convergence.totals.unconverged > 0) {
    console.warn(
      policy?.summary(where) ??
        `${where}: ${convergence.totals.unconverged} of ${convergence.totals.calls} oracle calls did not converge (see history[i].status); raise the solvers' iteration caps or loosen the accuracies.`,
    );
  }
  const phi = fromArrays(state.theta);
  let theta = phi;
  if (options.transform != null) {
    theta = options.transform.forward(phi);
    disposeParams(phi);
  }
  return { theta, state, history, status, message, work };
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


/**
 * One training loop for every upper-level method: budgets, progress events (callback and
 * async iterator), atomic JSON checkpoints and exact resumption.
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { addWork, emptyWork, workUnits, disposeParams, convergencePolicy, type OnNotConverged, type Data, type Loss, type Params, type Problem, type FixedPointProblem, type SaddleProblem, type Strategy, type Work } from '@bilevel/core';
import type { Method, MethodStateBase, Oracle, ParamsArrays, Proximal, StopReason } from './types.js';
import { oracleFromStrategy, type OracleConstants } from './oracle.js';
import type { BoundConstants } from './bounds.js';
import { reparameterise, withRegularizer, proximalOf, projection, composeProximal, type Reparameterisation, type Regularizer } from './transforms.js';
import { fromArrays, copyArrays, checkKeys, checkInt, checkRange } from './internal/util.js';
import { recordConvergence } from './internal/convergence.js';

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

/** Checkpoint options: a JSON file written atomically every `every` iterations. */
export interface CheckpointOptions {
  path: string;
  /** Iterations between checkpoints (default 1). A final checkpoint is always written. */
  every?: number;
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
  /** Called after every iteration. */
  onProgress?: (event: ProgressEvent) => void;
  /** Custom stopping test, evaluated after every iteration (deterministic criteria only). */
  stop?: (event: ProgressEvent, theta: ParamsArrays) => boolean;
  checkpoint?: CheckpointOptions;
  /** Continue from the checkpoint (`true`: `checkpoint.path`, if it exists; a string: that file, which must exist). */
  resume?: boolean | string;
  /**
   * Convergence policy of the oracle `train` builds from `problem` + `strategy` (core's
   * `OnNotConverged`, default `'warn'`: the first unconverged hypergradient is printed, and one
   * summary line at the end counts them all). A given `oracle` keeps its own policy; `train`
   * still records every call's status in the history and prints the count.
   */
  onNotConverged?: OnNotConverged;
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

/** The JSON a checkpoint holds. */
export interface Checkpoint<S = unknown> {
  format: 'bilevel-outer-checkpoint';
  version: 1;
  method: string;
  iterations: number;
  state: S;
  work: Work;
  history: ProgressEvent[];
  oracleState?: unknown;
  elapsedMs: number;
}

/**
 * Writes `content` to `file` atomically: a temporary file in the same directory, fsync,
 * rename over the target, fsync of the directory. A crash leaves the old or the new file,
 * never a torn one.
 *
 * @param file - target path.
 * @param content - text to write.
 * @example
 * ```ts
 * writeFileAtomic('/tmp/run/ckpt.json', JSON.stringify(checkpoint));
 * ```
 */
export function writeFileAtomic(file: string, content: string): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // Directory fsync is not supported everywhere (e.g. Windows); the rename is still atomic.
  }
}

/**
 * Reads a checkpoint written by {@link train}.
 *
 * @param file - checkpoint path.
 * @returns the parsed {@link Checkpoint}.
 * @example
 * ```ts
 * const ckpt = readCheckpoint('/tmp/run/ckpt.json');
 * console.log(ckpt.iterations, ckpt.work.innerIterations);
 * ```
 */
export function readCheckpoint<S = unknown>(file: string): Checkpoint<S> {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Checkpoint<S>;
  if (parsed == null || parsed.format !== 'bilevel-outer-checkpoint' || parsed.version !== 1) {
    throw new Error(`readCheckpoint: '${file}' is not a bilevel-outer checkpoint (version 1).`);
  }
  return parsed;
}

const KEYS = ['method', 'oracle', 'problem', 'strategy', 'data', 'loss', 'batchData', 'constants', 'theta0', 'budget', 'transform', 'regularizer', 'project', 'onProgress', 'stop', 'checkpoint', 'resume', 'onNotConverged'] as const;

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
  if (options.checkpoint != null) {
    checkKeys(where, options.checkpoint, ['path', 'every'], 'checkpoint.');
    if (typeof options.checkpoint.path !== 'string' || options.checkpoint.path === '') throw new Error(`${where}: option 'checkpoint.path' must be a file path.`);
    checkInt(where, 'checkpoint.every', every, 1, 'checkpoint every ≥ 1 iterations');
  }
  if (options.resume != null && typeof options.resume !== 'boolean' && typeof options.resume !== 'string') {
    throw new Error(`${where}: option 'resume' must be true (use checkpoint.path) or a checkpoint file path.`);
  }
  if (options.resume === true && options.checkpoint == null) throw new Error(`${where}: option 'resume: true' needs 'checkpoint.path'; or pass resume: '<file>'.`);

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
  const resumeFile = options.resume === true ? options.checkpoint!.path : typeof options.resume === 'string' ? options.resume : undefined;
  if (resumeFile != null && (typeof options.resume === 'string' || fs.existsSync(resumeFile))) {
    if (!fs.existsSync(resumeFile)) throw new Error(`${where}: resume file '${resumeFile}' does not exist; pass resume: true to start fresh when there is no checkpoint.`);
    const ckpt = readCheckpoint<S>(resumeFile);
    if (ckpt.method !== method.name) throw new Error(`${where}: checkpoint '${resumeFile}' was written by method '${ckpt.method}', not '${method.name}'; resume with the same method.`);
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
  const save = () => {
    if (options.checkpoint == null) return;
    const ckpt: Checkpoint<S> = {
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
    writeFileAtomic(options.checkpoint.path, JSON.stringify(ckpt));
  };

  let status: StopReason;
  let message: string;
  for (;;) {
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
    options.onProgress?.(event);
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
    if (options.checkpoint != null && history.length % every === 0) save();
  }
  save();
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
 *   checkpoint: { path: 'runs/maid.json', every: 10 },
 *   resume: true,
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


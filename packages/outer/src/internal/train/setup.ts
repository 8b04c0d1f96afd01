// The parts of a training run settled before the first iteration: option checks, the oracle
// in the optimised variable (with regularisers and projection), and the initial or resumed state.
import { addWork, emptyWork, disposeParams, convergencePolicy, requireBackend, checkTheta, checkData, type Work } from '@bilevel/core';
import type { MethodStateBase, Oracle, Proximal } from '../../types.js';
import type { ProgressEvent, TrainOptions } from '../../train.js';
import { oracleFromStrategy } from '../../oracle.js';
import { DEFAULT_CHECKPOINT_KEY } from '../../checkpoint.js';
import { readRun, type ReadRun } from '../checkpoint/run-store.js';
import { resolveResume, runFingerprint, checkFingerprint } from './resume.js';
import type { RunFingerprint } from '../checkpoint/fingerprint.js';
import type { StopReason } from '../../types.js';
import { reparameterise, withRegularizer, proximalOf, projection, composeProximal } from '../../transforms.js';
import { checkKeys, checkInt, checkRange } from '../util.js';
import { recordConvergence } from '../convergence.js';

export const WHERE = 'train';

const KEYS = ['method', 'oracle', 'problem', 'strategy', 'data', 'loss', 'batchData', 'constants', 'theta0', 'budget', 'transform', 'regularizer', 'project', 'onProgress', 'stop', 'checkpoint', 'resume', 'onNotConverged', 'signal', 'workers'] as const;

/** Checks method, θ₀, budget, checkpoint, resume and signal; returns the checkpoint interval and key. */
export function checkTrainOptions<S extends MethodStateBase, D>(options: TrainOptions<S, D>): { every: number; key: string } {
  const where = WHERE;
  if (options == null || typeof options !== 'object') throw new Error(`${where}: options must be an object { method, oracle | (problem, strategy, data, loss), theta0, budget }.`);
  checkKeys(where, options, KEYS);
  const { method, theta0, budget } = options;
  if (method == null || typeof method.init !== 'function' || typeof method.step !== 'function') {
    throw new Error(`${where}: option 'method' must be an upper-level method such as maid(...), hoag(...), sgd(...), adam(...).`);
  }
  // Core's one input check: backend, θ₀ (plain object of float32 tensors, dtype before values) and the data.
  requireBackend(where);
  checkTheta(where, theta0, 'theta0');
  checkData(where, options.data);
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
  const resume = options.resume;
  if (resume != null && typeof resume !== 'boolean' && (typeof resume !== 'object' || Array.isArray(resume)) && (typeof resume !== 'string' || resume === '')) {
    throw new Error(`${where}: option 'resume' must be true (resume from checkpoint.key), a key in checkpoint.store, or { key?, allowMismatch? }.`);
  }
  if (options.resume != null && options.resume !== false && checkpoint == null) {
    throw new Error(`${where}: option 'resume' needs 'checkpoint' (the store to read), e.g. checkpoint: fileCheckpoint('run.json') from '@bilevel/outer/node', or { store: memoryStore(), key }.`);
  }
  const signal = options.signal;
  if (signal != null && typeof signal.aborted !== 'boolean') throw new Error(`${where}: option 'signal' must be an AbortSignal (or any { aborted: boolean }).`);
  return { every, key };
}

/**
 * The oracle the method sees: the given one or `oracleFromStrategy`, reparameterised by the
 * transform, with smooth regularisers folded in; proximal regularisers and the projection
 * compose into the `proximal` the method applies after each step. `base` is the untransformed
 * oracle, whose warm-start state the checkpoints hold; `convergence` records every call's status
 * and `policy` is the convergence policy of an oracle built here.
 */
export function trainingOracle<S extends MethodStateBase, D>(options: TrainOptions<S, D>) {
  const where = WHERE;
  let oracle: Oracle;
  const policy = options.oracle == null ? convergencePolicy(options.onNotConverged ?? 'warn', `${where}: later unconverged hypergradients of this run are counted; summary at the end`) : undefined;
  if (options.oracle != null) {
    if (options.problem != null || options.strategy != null || options.workers != null) throw new Error(`${where}: give either 'oracle', or 'workers', or 'problem' + 'strategy' + 'data' + 'loss', not two of them.`);
    if (typeof options.oracle !== 'function') throw new Error(`${where}: option 'oracle' must be a function (theta, { tol, linearTol }, options?) => OracleResult.`);
    oracle = options.oracle;
  } else if (options.workers != null) {
    // oracleFromStrategy refuses problem/strategy/data/loss next to workers, with the reason
    oracle = oracleFromStrategy<D>({ workers: options.workers, problem: options.problem, strategy: options.strategy, data: options.data, loss: options.loss, batchData: options.batchData, constants: options.constants, onNotConverged: policy });
  } else {
    if (options.problem == null || options.strategy == null || options.data == null || options.loss == null) {
      throw new Error(`${where}: give option 'oracle', or all of 'problem', 'strategy', 'data' and 'loss'.`);
    }
    oracle = oracleFromStrategy<D>({ problem: options.problem, strategy: options.strategy, data: options.data, loss: options.loss, batchData: options.batchData, constants: options.constants, onNotConverged: policy });
  }
  const base = oracle;
  // Records each call's convergence for the history (the events' status, converged, unconverged).
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
  return { oracle, base, proximal: composeProximal(...proximalParts), convergence, policy };
}

/** Statuses after which a resumed run continues (a larger budget, a stop button); any other returns the saved result. */
const CONTINUABLE: ReadonlySet<StopReason> = new Set<StopReason>(['aborted', 'budget-iterations', 'budget-work', 'budget-seconds']);

/** Where a run starts (see {@link startState}). */
export interface StartState<S> {
  state: S;
  history: ProgressEvent[];
  work: Work;
  elapsedBefore: number;
  fingerprint: RunFingerprint;
  /** The checkpoint continued, if any. */
  resumed?: ReadRun<S>;
  /** Set when the checkpoint holds a finished run: return it without new iterations. */
  finished?: { status: StopReason; message: string };
}

/**
 * Where a run starts: `method.init(T⁻¹(θ₀))`, or the checkpoint named by `resume` once its
 * fingerprint matches this run (and the oracle's and strategy's warm starts restored from it).
 */
export async function startState<S extends MethodStateBase, D>(options: TrainOptions<S, D>, baseOracle: Oracle, key: string): Promise<StartState<S>> {
  const where = WHERE;
  const { method, theta0 } = options;
  const resume = resolveResume(options.resume, key);
  const fingerprint = runFingerprint(options as never, baseOracle);
  const run = resume.key == null ? undefined : await readRun<S>(where, options.checkpoint!.store, resume.key);
  if (run == null && resume.required) {
    throw new Error(`${where}: resume checkpoint '${resume.key}' does not exist in checkpoint.store; pass resume: true to start fresh when there is no checkpoint.`);
  }
  if (run != null) {
    const ckpt = run.checkpoint;
    if (ckpt.method !== method.name) throw new Error(`${where}: checkpoint '${run.from}' was written by method '${ckpt.method}', not '${method.name}'; resume with the same method.`);
    checkFingerprint(run.from, ckpt.fingerprint as RunFingerprint, fingerprint, resume.allow);
    if (ckpt.oracleState !== undefined) {
      if (baseOracle.loadState == null) throw new Error(`${where}: the checkpoint holds oracle warm-start state but this oracle has no loadState(); use the same kind of oracle to resume.`);
      try {
        baseOracle.loadState(ckpt.oracleState);
      } catch (e) {
        throw new Error(`${where}: checkpoint '${run.from}': ${(e as Error).message}`);
      }
    }
    const finished = ckpt.finished != null && !CONTINUABLE.has(ckpt.finished.status) ? ckpt.finished : undefined;
    return { state: ckpt.state, history: ckpt.history, work: addWork(ckpt.work), elapsedBefore: ckpt.elapsedMs, fingerprint, resumed: run, finished };
  }
  let phi0 = theta0;
  if (options.transform != null) phi0 = options.transform.inverse(theta0);
  const state = method.init(phi0);
  if (phi0 !== theta0) disposeParams(phi0);
  return { state, history: [], work: emptyWork(), elapsedBefore: 0, fingerprint };
}

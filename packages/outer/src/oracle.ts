/**
 * Adapter from a hypergradient {@link Strategy} (e.g. `implicit({ inner, linear })`) to the
 * {@link Oracle} the upper-level methods run on, with warm starts of the lower-level solve.
 *
 * @packageDocumentation
 */
import { tf, grad as gradOf, normParams, convergencePolicy, hypergradientWithPolicy, valueWithPolicy, checkStrongConvexity, checkRequest, guardLoss, type Data, type Loss, type Params, type Problem, type FixedPointProblem, type SaddleProblem, type Strategy, type HypergradientResult, type OnNotConverged, type ConvergencePolicy } from '@bilevel/core';
import type { Oracle, OracleAccuracy, OracleCallOptions, OracleResult } from './types.js';
import { hypergradientBound, valueBound, type HypergradientBoundConstants as BoundConstants } from '@bilevel/implicit';
import { checkKeys, checkInt } from './internal/util.js';
import { describe as describeOption, dataFingerprint } from './internal/checkpoint/fingerprint.js';
import { encodeWarmState, decodeWarmState, float32ToBase64, base64ToFloat32, type EncodedWarmState } from './internal/checkpoint/float32.js';
import { pooledOracle } from './internal/pooled-oracle.js';
import type { SamplePool } from '@bilevel/core';

/** Options of {@link oracleFromStrategy}. */
/**
 * Bound constants: fixed numbers, or a function of the current θ, the data and the computed
 * lower-level point x̃ when they depend on them (e.g. L_H ∝ α/ν² for smoothed TV, and
 * B_J = ‖∇²_{xθ}Φ(x̃; θ)‖, which the bound needs at x̃ only), evaluated at every call.
 */
export type OracleConstants<D = Data> =
  | (Omit<BoundConstants, 'mu'> & { mu?: number })
  | ((theta: Params, data: D, x: tf.Tensor) => Omit<BoundConstants, 'mu'> & { mu?: number });

export interface StrategyOracleOptions<D = Data> {
  /** The lower level; a saddle point (`defineSaddle`) needs a saddle-point strategy such as `piggyback()`. Not with `workers` (the task module defines it). */
  problem?: Problem<D> | FixedPointProblem<D> | SaddleProblem<D>;
  /** Data of the whole training set. Not with `workers`. */
  data?: D;
  loss?: Loss<D>;
  strategy?: Strategy;
  /**
   * Compute every call sample by sample on a pool of workers instead: `workerPool({ module,
   * threads })` from `@bilevel/pool` (this machine's cores), `distributedPool(...)` from
   * `@bilevel/distributed` (worker processes on any machines), or `inlinePool(task)` (this
   * thread). The task module defines problem, strategy, per-sample loss and data; a call
   * returns the mean over its batch (all samples without one), summed in the batch's order.
   * Warm starts are kept per sample by the pool (and checkpointed through `saveState`).
   */
  workers?: SamplePool;
  /**
   * Data of a minibatch (required by minibatch methods such as `sgd`/`adam`). Tensors it
   * returns that are not tensors of `data` itself are disposed when the oracle call ends,
   * so it may build slices (`tf.gather(data.y, batch)`) freely.
   */
  batchData?: (batch: number[]) => D;
  /**
   * Constants for the bound when the strategy reports none (see {@link BoundConstants};
   * `mu` defaults to the problem's `strongConvexity`). Without them and without a strategy
   * bound, `bound` and `valueBound` are NaN (fine for HOAG/SGD/Adam, refused by MAID).
   */
  constants?: OracleConstants<D>;
  /** Iteration caps passed to the strategy. */
  maxIter?: number;
  linearMaxIter?: number;
  /**
   * Warm-start each solve from the previous solution of the same batch (default true).
   * Never for saddle problems: a primal x₀ alone would restart the dual from zero, so the
   * strategy's own (x, z, λ) warm start (piggyback's `warmStart`) is left to act instead.
   */
  warmStart?: boolean;
  /** Warm starts kept (one per distinct batch, least recently used dropped). Default 16. */
  maxWarmStarts?: number;
  /**
   * Convergence policy of every call (core's `OnNotConverged`): `'warn'` (default: the first
   * unconverged call is printed, the rest counted in `oracle.convergence`), `'error'`,
   * `'tighten'`, `{ fallback }`, or a shared `convergencePolicy(...)` (what `train` passes).
   */
  onNotConverged?: OnNotConverged;
}

/** The oracle {@link oracleFromStrategy} returns: an {@link Oracle} with its convergence policy. */
export type StrategyOracle = Oracle & {
  saveState(): unknown;
  loadState(state: unknown): void;
  /** What a checkpoint's fingerprint records of this oracle: the strategy with its options, the data's shapes and hash (absent for a pooled oracle, whose task module holds them). */
  fingerprint?(): { strategy: unknown; data: unknown };
  readonly convergence: ConvergencePolicy;
};

interface Stored {
  shape: number[];
  values: Float32Array;
}

/** What the oracle's `saveState()` returns (JSON-safe): its per-batch x warm starts and the strategy's own warm state. */
interface SavedOracleState {
  x: Array<[string, { shape: number[]; data: string }]>;
  strategy?: EncodedWarmState;
}

/**
 * Builds an {@link Oracle} from a strategy: each call runs
 * `strategy.compute({ problem, theta, data, loss, tol, linearTol, maxIter, linearMaxIter, x0 })`
 * with `x0` the previous lower-level solution of the same batch (warm start), and returns
 * `{ value, grad, bound, valueBound, work }`.
 *
 * When the strategy reports no `bound`, and `constants` are given for an energy problem, the
 * bound is computed a-priori from the achieved residuals: ε = ‖∇ₓΦ(x̃)‖/μ, δ = backward
 * residual, ‖q̃‖ ≤ (‖∇ₓℓ(x̃)‖ + δ)/μ ({@link hypergradientBound}), and
 * `valueBound = ‖∇ₓℓ(x̃)‖ε + L_{∇ℓ}ε²/2` ({@link valueBound}).
 *
 * The warm starts are part of the oracle's `saveState()` so checkpoints can restore them.
 *
 * @param options - {@link StrategyOracleOptions}.
 * @returns the {@link Oracle}.
 * @example
 * ```ts
 * import { implicit } from '@bilevel/implicit';
 * const oracle = oracleFromStrategy({ problem, data, loss, strategy: implicit({ inner, linear }),
 *   constants: { lossLipschitz: 2 / n, mixedNorm: 1 } });
 * const result = await train({ method: maid({ tol0: 1e-1, step0: 1 }), oracle, theta0, budget: { iterations: 50 } });
 * ```
 */
export function oracleFromStrategy<D = Data>(options: StrategyOracleOptions<D>): StrategyOracle {
  const where = 'oracleFromStrategy';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: options must be { problem, data, loss, strategy, ... }.`);
  checkKeys(where, options, ['problem', 'data', 'loss', 'strategy', 'batchData', 'constants', 'maxIter', 'linearMaxIter', 'warmStart', 'maxWarmStarts', 'onNotConverged', 'workers']);
  if (options.maxIter != null) checkInt(where, 'maxIter', options.maxIter, 1, 'give a positive iteration cap');
  if (options.linearMaxIter != null) checkInt(where, 'linearMaxIter', options.linearMaxIter, 1, 'give a positive iteration cap');
  if (options.workers != null) {
    for (const key of ['problem', 'data', 'loss', 'strategy', 'batchData', 'constants'] as const) {
      if (options[key] != null) throw new Error(`${where}: option '${key}' cannot be combined with 'workers': the task module the workers import defines the problem, strategy, loss and data.`);
    }
    return pooledOracle(where, options.workers, options);
  }
  const { problem, data, loss, strategy } = options as Required<Pick<StrategyOracleOptions<D>, 'problem' | 'data' | 'loss' | 'strategy'>>;
  if (problem == null) throw new Error(`${where}: option 'problem' is required (defineProblem(...)).`);
  if (typeof loss !== 'function') throw new Error(`${where}: option 'loss' must be a function (x, theta, data) => scalar tensor.`);
  if (strategy == null || typeof strategy.compute !== 'function') throw new Error(`${where}: option 'strategy' must be a Strategy (e.g. implicit({ inner, linear })).`);
  if (options.batchData != null && typeof options.batchData !== 'function') throw new Error(`${where}: option 'batchData' must be a function (batch: number[]) => data.`);
  const maxWarm = options.maxWarmStarts ?? 16;
  checkInt(where, 'maxWarmStarts', maxWarm, 1, 'keep at least one warm start');
  const warmStart = (options.warmStart ?? true) && problem.kind !== 'saddle';
  const warm = new Map<string, Stored>();
  const policy = convergencePolicy(options.onNotConverged ?? 'warn', 'oracleFromStrategy: later unconverged calls are counted in oracle.convergence');

  function tensorsOf(value: unknown): tf.Tensor[] {
    if (value instanceof tf.Tensor) return [value];
    if (value == null || typeof value !== 'object') return [];
    return Object.values(value as Record<string, unknown>).filter((v): v is tf.Tensor => v instanceof tf.Tensor);
  }

  function dataFor(batch: number[] | undefined): D {
    if (batch == null) return data;
    if (options.batchData == null) throw new Error(`${where}: the method asked for a minibatch but option 'batchData' is missing; give batchData: (batch) => data of those samples.`);
    return options.batchData(batch);
  }

  function certify(res: HypergradientResult, theta: Params, d: D, accuracy: OracleAccuracy): { bound: number; valueBound: number } {
    let bound = res.bound ?? NaN;
    let vBound = res.valueBound ?? NaN;
    const given = options.constants;
    const c = typeof given === 'function' ? given(theta, d, res.x) : given;
    if ((Number.isNaN(bound) || Number.isNaN(vBound)) && c != null && problem.kind === 'energy') {
      const mu = c.mu ?? problem.mu(theta, d);
      if (mu == null || !(mu > 0)) throw new Error(`${where}: cannot certify the bound: give constants.mu or the problem's strongConvexity.`);
      // A declared μ above the curvature at x̂ would make the certificate false: refuse it.
      checkStrongConvexity(where, problem, res.x, theta, d, mu);
      const eps = res.residuals.forward / mu;
      const delta = res.residuals.backward ?? accuracy.linearTol;
      const g = gradOf((x) => loss(x, theta, d), res.x);
      const lossGradNorm = normParams({ g });
      g.dispose();
      if (Number.isNaN(bound)) bound = hypergradientBound({ ...c, mu }, { eps, delta, lossGradNorm });
      if (Number.isNaN(vBound)) vBound = valueBound(lossGradNorm, eps, c.lossLipschitz);
    }
    return { bound, valueBound: vBound };
  }

  const oracle = (theta: Params, accuracy: OracleAccuracy, call: OracleCallOptions = {}): OracleResult => {
    const key = call.batch == null ? '*' : call.batch.join(',');
    const d = dataFor(call.batch);
    try {
      // A value-only request runs no adjoint solve: `strategy.value` (every driven strategy), else
      // with skipAdjoint a bare `solve`; `skipAdjoint: false` asks for the full hypergradient.
      if (call.valueOnly === true && call.skipAdjoint !== false && typeof strategy.value === 'function') return evaluateValue(theta, accuracy, key, d, 'value');
      if (call.valueOnly === true && call.skipAdjoint === true && typeof strategy.solve === 'function') return evaluateValue(theta, accuracy, key, d, 'solve');
      return evaluate(theta, accuracy, key, d);
    } finally {
      // Tensors batchData made for this call (not the full data's own) die with the call.
      if (d !== data) {
        const own = new Set(tensorsOf(data));
        for (const t of tensorsOf(d)) if (!own.has(t) && !t.isDisposed) t.dispose();
      }
    }
  };

  const evaluate = (theta: Params, accuracy: OracleAccuracy, key: string, d: D): OracleResult => {
    const stored = warmStart ? warm.get(key) : undefined;
    const x0 = stored != null ? tf.tensor(stored.values, stored.shape, 'float32') : undefined;
    let res: HypergradientResult;
    try {
      // Saddle problems travel in the same request (as in core's hypergradient); the strategy checks `kind`.
      // Through core's driver and policy: an unconverged hypergradient is flagged, counted, retried or refused, never silent.
      res = hypergradientWithPolicy<D>(where, strategy, { problem: problem as Problem<D> | FixedPointProblem<D>, theta, data: d, loss, tol: accuracy.tol, linearTol: accuracy.linearTol, maxIter: options.maxIter, linearMaxIter: options.linearMaxIter, x0 }, policy);
    } finally {
      x0?.dispose();
    }
    if (warmStart) {
      warm.delete(key);
      warm.set(key, { shape: res.x.shape.slice(), values: Float32Array.from(res.x.dataSync()) });
      while (warm.size > maxWarm) warm.delete(warm.keys().next().value as string);
    }
    let certified: { bound: number; valueBound: number };
    try {
      certified = certify(res, theta, d, accuracy);
    } catch (e) {
      res.dispose();
      throw e;
    }
    const { bound, valueBound: vb } = certified;
    return { value: res.value, grad: res.grad, bound, valueBound: vb, work: res.work, converged: res.converged, status: res.status, message: res.message, dispose: () => res.dispose() };
  };
  // Value-only call: the forward solve alone (no adjoint, 0 linear iterations) by the strategy's
  // `value` (which reports the rule's forward-only valueBound) or its bare `solve`; for an energy
  // problem without one, the valueBound comes from `constants` (NaN without them).
  const evaluateValue = (theta: Params, accuracy: OracleAccuracy, key: string, d: D, via: 'value' | 'solve'): OracleResult => {
    const stored = warmStart ? warm.get(key) : undefined;
    const x0 = stored != null ? tf.tensor(stored.values, stored.shape, 'float32') : undefined;
    let solved: { x: tf.Tensor; value?: number; valueBound?: number; residual: number; converged: boolean; status?: string; message: string; work: OracleResult['work'] };
    try {
      const request = { problem: problem as Problem<D> | FixedPointProblem<D>, theta, data: d, loss, x0, tol: accuracy.tol, maxIter: options.maxIter };
      if (via === 'value') {
        const r = valueWithPolicy<D>(where, strategy, request, policy);
        solved = { x: r.x, value: r.value, valueBound: r.valueBound, residual: r.residuals.forward, converged: r.converged, status: r.status, message: r.message, work: r.work };
      } else {
        checkRequest(where, { problem, theta, data: d });
        const r = strategy.solve!<D>(request);
        policy.settleSolve(where, 'forward', r, strategy.name, accuracy.tol, () => r.x.dispose());
        solved = r;
      }
    } finally {
      x0?.dispose();
    }
    const x = solved.x;
    try {
      if (warmStart) {
        warm.delete(key);
        warm.set(key, { shape: x.shape.slice(), values: Float32Array.from(x.dataSync()) });
        while (warm.size > maxWarm) warm.delete(warm.keys().next().value as string);
      }
      let value = solved.value;
      if (value == null) {
        const lossValue = tf.tidy(() => guardLoss(where, loss)(x, theta, d));
        value = lossValue.dataSync()[0];
        lossValue.dispose();
      }
      let vBound = solved.valueBound ?? NaN;
      const given = options.constants;
      const c = Number.isNaN(vBound) ? (typeof given === 'function' ? given(theta, d, x) : given) : undefined;
      if (c != null && problem.kind === 'energy') {
        const mu = c.mu ?? problem.mu(theta, d);
        if (mu == null || !(mu > 0)) throw new Error(`${where}: cannot certify the value bound: give constants.mu or the problem's strongConvexity.`);
        checkStrongConvexity(where, problem, x, theta, d, mu);
        const g = gradOf((z) => loss(z, theta, d), x);
        const lossGradNorm = normParams({ g });
        g.dispose();
        vBound = valueBound(lossGradNorm, solved.residual / mu, c.lossLipschitz);
      }
      const status = solved.status ?? (solved.converged ? 'converged' : 'forward-not-converged');
      return { value, bound: NaN, valueBound: vBound, work: solved.work, converged: solved.converged, status, message: solved.message, dispose: () => {} };
    } finally {
      x.dispose();
    }
  };

  return Object.assign(oracle, {
    convergence: policy,
    fingerprint: () => ({ strategy: describeOption({ name: strategy.name, options: (strategy as { options?: unknown }).options }), data: dataFingerprint(data) }),
    // Everything that shapes the next solves: the per-batch x warm starts and the strategy's
    // own (its driver x, the adjoint q, a saddle point), so a resumed run repeats the original bit for bit.
    saveState: (): SavedOracleState => ({
      x: Array.from(warm.entries(), ([k, v]) => [k, { shape: v.shape.slice(), data: float32ToBase64(v.values) }]),
      ...(typeof strategy.warmState === 'function' ? { strategy: encodeWarmState(strategy.warmState()) } : {}),
    }),
    loadState(state: unknown) {
      const s = state as SavedOracleState | null;
      if (s == null || typeof s !== 'object' || !Array.isArray(s.x)) throw new Error(`${where}.loadState: expected the object saveState() returned ({ x, strategy }).`);
      const entries = s.x.map(([k, v], i): [string, Stored] => {
        const values = base64ToFloat32(v.data, `oracleState.x[${i}].data`);
        if (values.length !== v.shape.reduce((a, b) => a * b, 1)) throw new Error(`${where}.loadState: warm start '${k}' has ${values.length} values for shape [${v.shape}]; the state is corrupt.`);
        return [k, { shape: v.shape.slice(), values }];
      });
      if (s.strategy != null) {
        if (typeof strategy.loadWarmState !== 'function') throw new Error(`${where}.loadState: the state holds warm starts of a strategy, but strategy '${strategy.name}' has no loadWarmState(); resume with the strategy that wrote it.`);
        strategy.loadWarmState(decodeWarmState(s.strategy, 'oracleState.strategy'));
      } else strategy.loadWarmState?.({});
      warm.clear();
      for (const [k, v] of entries) warm.set(k, v);
    },
  });
}

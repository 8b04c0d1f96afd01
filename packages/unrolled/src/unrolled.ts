import {
  tf,
  emptyWork,
  sizeOfParams,
  flattenParams,
  unflattenParams,
  disposeParams,
  addParams,
  checkPositiveInt,
  checkNonNegative,
} from '@bilevel/core';
import type {
  Data,
  Params,
  Problem,
  FixedPointProblem,
  Strategy,
  HypergradientRequest,
  HypergradientResult,
  Loss,
  Work,
} from '@bilevel/core';
import {
  makeStep,
  initialState,
  disposeState,
  advance,
  gradStateTheta,
  stepJvp,
} from './internal/steps.js';
import type { State, StepMap, StepSize, Method } from './internal/steps.js';

export type { StepSize, Method } from './internal/steps.js';

/** Which states the reverse sweep keeps. */
export type UnrolledMemory = 'full' | { checkpoint: 'sqrt' } | { checkpointEvery: number };

/** Options of {@link unrolled}. */
export interface UnrolledOptions {
  /** Number T of solver steps unrolled. */
  steps?: number;
  /**
   * Step size s of the gradient step `x ← x − s∇ₓΦ(x; θ)`: a number, or a differentiable
   * function of θ returning a scalar tensor (its θ-dependence is differentiated too).
   * Default: `1 / L` with L from the problem's `smoothness`. Ignored for fixed-point problems.
   */
  stepSize?: StepSize;
  /** `'gd'`, `'heavy-ball'` (Polyak) or `'nesterov'`. Fixed-point problems always iterate `x ← T(x)`. */
  method?: Method;
  /** Momentum β of heavy-ball and Nesterov, in [0, 1). */
  momentum?: number;
  /** `'reverse'` (backpropagation) or `'forward'` (one tangent per scalar parameter). */
  mode?: 'reverse' | 'forward';
  /**
   * `'full'`: one tape over all differentiated steps (memory O(T) states).
   * `{ checkpoint: 'sqrt' }`: keep every ⌈√K⌉-th state and recompute each segment in the
   * backward sweep (memory O(√K), one extra forward sweep). `{ checkpointEvery: k }`: every k-th.
   */
  memory?: UnrolledMemory;
  /** Differentiate only through the last K steps; x_{T−K} is treated as a constant. Default: all T. */
  truncate?: number;
  /** Start each call from the previous call's x_T (when `request.x0` is not given). */
  warmStart?: boolean;
}

/** Defaults of {@link unrolled}. */
export const DEFAULT_UNROLLED_OPTIONS = {
  steps: 100,
  method: 'gd' as Method,
  momentum: 0.9,
  mode: 'reverse' as 'reverse' | 'forward',
  memory: 'full' as UnrolledMemory,
  warmStart: false,
} as const;

/** An unrolled-differentiation strategy. */
export interface UnrolledStrategy extends Strategy {
  readonly options: Readonly<UnrolledOptions>;
  /**
   * The forward solve alone: T steps from `x0` (or the problem's initial point).
   * The caller owns `x`.
   */
  solve<D = Data>(request: {
    problem: Problem<D> | FixedPointProblem<D>;
    theta: Params;
    data: D;
    x0?: tf.Tensor;
    tol?: number;
    maxIter?: number;
  }): { x: tf.Tensor; residual: number; converged: boolean; message: string; work: Work };
  /**
   * VJP `(∂x_T/∂θ)ᵀ v` of the unrolled map from the problem's initial point (the start
   * {@link UnrolledStrategy.solve} uses without `x0`); `x` only fixes the shape.
   */
  vjpSolution<D = Data>(request: {
    problem: Problem<D> | FixedPointProblem<D>;
    theta: Params;
    data: D;
    x: tf.Tensor;
    cotangent: tf.Tensor;
  }): { grad: Params; converged: boolean; message: string; work: Work };
  /** Disposes the warm-start state. */
  reset(): void;
}

const WHERE = 'unrolled';
const METHODS: readonly Method[] = ['gd', 'heavy-ball', 'nesterov'];

function validate(options: UnrolledOptions): void {
  if (options == null || typeof options !== 'object') {
    throw new Error(`${WHERE}: options must be an object such as { steps: 100 }.`);
  }
  const known = ['steps', 'stepSize', 'method', 'momentum', 'mode', 'memory', 'truncate', 'warmStart'];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new Error(`${WHERE}: unknown option '${key}'; the options are ${known.join(', ')}.`);
  }
  if (options.steps != null) checkPositiveInt(WHERE, 'steps', options.steps);
  const s = options.stepSize;
  if (s != null && typeof s !== 'function') checkNonNegative(WHERE, 'stepSize', s, true);
  if (options.method != null && !METHODS.includes(options.method)) {
    throw new Error(`${WHERE}: option 'method' must be one of ${METHODS.map((m) => `'${m}'`).join(', ')}, got '${String(options.method)}'.`);
  }
  if (options.momentum != null) {
    checkNonNegative(WHERE, 'momentum', options.momentum);
    if (options.momentum >= 1) throw new Error(`${WHERE}: option 'momentum' must be < 1 for the iteration to converge, got ${options.momentum}.`);
  }
  if (options.mode != null && options.mode !== 'reverse' && options.mode !== 'forward') {
    throw new Error(`${WHERE}: option 'mode' must be 'reverse' or 'forward', got '${String(options.mode)}'.`);
  }
  const m = options.memory;
  if (m != null && m !== 'full') {
    const ok =
      typeof m === 'object' &&
      (('checkpoint' in m && m.checkpoint === 'sqrt') || ('checkpointEvery' in m && Number.isInteger(m.checkpointEvery) && m.checkpointEvery > 0));
    if (!ok) {
      throw new Error(`${WHERE}: option 'memory' must be 'full', { checkpoint: 'sqrt' } or { checkpointEvery: k } with k a positive integer, got ${JSON.stringify(m)}.`);
    }
  }
  if (options.truncate != null) {
    checkPositiveInt(WHERE, 'truncate', options.truncate);
    const steps = options.steps ?? DEFAULT_UNROLLED_OPTIONS.steps;
    if (options.truncate > steps) {
      throw new Error(`${WHERE}: option 'truncate' (${options.truncate}) exceeds 'steps' (${steps}); use truncate ≤ steps or omit it.`);
    }
  }
}

function resolveStepSize<D>(problem: Problem<D> | FixedPointProblem<D>, theta: Params, data: D, stepSize: StepSize | undefined): StepSize {
  if (problem.kind === 'fixed-point') return 1;
  if (stepSize != null) return stepSize;
  const L = problem.lipschitz(theta, data);
  if (L == null || L <= 0) {
    throw new Error(`${WHERE}: no step size for '${problem.name}': pass options.stepSize or give defineProblem a 'smoothness' (L, step 1/L).`);
  }
  return 1 / L;
}

function forwardResidual<D>(problem: Problem<D> | FixedPointProblem<D>, x: tf.Tensor, theta: Params, data: D): number {
  const r = tf.tidy(() => {
    if (problem.kind === 'fixed-point') return tf.norm(tf.sub(problem.map(x, theta, data), x));
    return tf.norm(problem.gradient(x, theta, data));
  });
  const v = r.dataSync()[0];
  r.dispose();
  return v;
}

/** Segment length of the checkpoint schedule over K differentiated steps (K when 'full'). */
function segmentLength(memory: UnrolledMemory, K: number): number {
  if (memory === 'full') return K;
  if ('checkpoint' in memory) return Math.max(1, Math.ceil(Math.sqrt(K)));
  return Math.min(memory.checkpointEvery, K);
}

interface Sweep {
  value: number;
  grad: Params;
  xT: tf.Tensor;
  work: Partial<Work>;
}

/**
 * Reverse sweep over K steps from `start` (not consumed) with a terminal scalar
 * `terminal(x_T, θ)`: one tape when `segment ≥ K`, else checkpoints every `segment` steps
 * and one short tape per segment, newest first.
 */
function reverseSweep(
  step: StepMap,
  start: State,
  theta: Params,
  K: number,
  segment: number,
  terminal: (x: tf.Tensor, theta: Params) => tf.Tensor,
): Sweep {
  if (segment >= K) {
    let xT!: tf.Tensor;
    const { value, gState, gTheta } = gradStateTheta(
      (s, th) => {
        let current = s;
        for (let t = 0; t < K; t++) current = step(current, th);
        xT = tf.keep(current[0].clone());
        return terminal(current[0], th);
      },
      start,
      theta,
    );
    disposeState(gState);
    const v = value.dataSync()[0];
    value.dispose();
    return { value: v, grad: gTheta, xT, work: { vjps: K } };
  }
  // Forward sweep keeping only the checkpoints s_{0}, s_{k}, s_{2k}, ... (start is checkpoint 0).
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
  return { value, grad, xT, work: { vjps: K, gradEvals: K, innerIterations: K } };
}

/**
 * Forward-mode sweep: one tangent `u_j = ∂s_t/∂θ_j` per scalar parameter, propagated by
 * `u_j ← J_s S u_j + ∂_{θ_j} S` (one JVP of the step per parameter per step).
 */
function forwardSweep(
  step: StepMap,
  start: State,
  theta: Params,
  K: number,
  terminal: (x: tf.Tensor, theta: Params) => tf.Tensor,
): Sweep {
  const P = sizeOfParams(theta);
  const directions: Params[] = [];
  for (let j = 0; j < P; j++) {
    directions.push(tf.tidy(() => unflattenParams(tf.oneHot(tf.tensor1d([j], 'int32'), P).reshape([P]).toFloat(), theta)));
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
  return { value, grad, xT, work: { jvps: P * K } };
}

/**
 * Unrolled differentiation: run T steps of a solver and differentiate the resulting
 * x_T(θ) exactly (the gradient of the *unrolled map*, not of the exact argmin).
 *
 * Energy problems take `x_{t+1} = x_t − s(θ)∇ₓΦ(x_t; θ)` (or heavy-ball / Nesterov);
 * fixed-point problems take `x_{t+1} = T(x_t; θ)`. The result is
 * `∇_θ ℓ(x_T(θ), θ)` with x_0 (and, under `truncate: K`, x_{T−K}) held constant.
 *
 * Reverse mode backpropagates the adjoint `λ_t = λ_{t+1} − s∇²ₓₓΦ(x_t)λ_{t+1}` and
 * accumulates `−s(∇²_{xθ}Φ)ᵀλ_{t+1}` (plus `−⟨∇ₓΦ(x_t), λ_{t+1}⟩∂s/∂θ` when s depends on θ),
 * all by tfjs autodiff through the step map. For quadratic Φ started from any x_0 this equals
 * implicit differentiation with the adjoint system solved by T Richardson steps of size s
 * from q_0 = 0 (Ehrhardt & Roberts 2024).
 *
 * Cost: reverse mode, T step evaluations forward and T step-VJPs (each one HVP plus one
 * mixed product) backward; checkpointing adds one more forward sweep and cuts memory from
 * O(T) to O(√T) states. Forward mode costs (#parameters) × T JVPs (≈ 2 VJPs each) and
 * memory O(#parameters) states: use it for a handful of parameters only.
 *
 * @param options - see {@link UnrolledOptions}; defaults in {@link DEFAULT_UNROLLED_OPTIONS}.
 * @returns a {@link Strategy}.
 * @example
 * ```ts
 * const strategy = unrolled({ steps: 200, stepSize: 0.1, memory: { checkpoint: 'sqrt' } });
 * const result = strategy.compute({ problem, theta, data, loss });
 * console.log(result.value, result.grad);
 * result.dispose();
 * ```
 */
export function unrolled(options: UnrolledOptions = {}): UnrolledStrategy {
  validate(options);
  const steps = options.steps ?? DEFAULT_UNROLLED_OPTIONS.steps;
  const method = options.method ?? DEFAULT_UNROLLED_OPTIONS.method;
  const momentum = options.momentum ?? DEFAULT_UNROLLED_OPTIONS.momentum;
  const mode = options.mode ?? DEFAULT_UNROLLED_OPTIONS.mode;
  const memory = options.memory ?? DEFAULT_UNROLLED_OPTIONS.memory;
  const warmStart = options.warmStart ?? DEFAULT_UNROLLED_OPTIONS.warmStart;
  const K = options.truncate ?? steps;
  let warm: tf.Tensor | undefined;

  function startPoint<D>(problem: Problem<D> | FixedPointProblem<D>, theta: Params, data: D, x0?: tf.Tensor): tf.Tensor {
    if (x0 != null) return x0.clone();
    if (warmStart && warm != null) return warm.clone();
    return problem.initialPoint(theta, data);
  }

  function remember(x: tf.Tensor): void {
    if (!warmStart) return;
    warm?.dispose();
    warm = x.clone();
  }

  function checkProblem(problem: unknown): void {
    const kind = (problem as { kind?: string } | null)?.kind;
    if (kind !== 'energy' && kind !== 'fixed-point') {
      throw new Error(`${WHERE}: request.problem must come from defineProblem or defineFixedPoint.`);
    }
  }

  /** Runs the T − K constant steps and returns the state where differentiation starts. */
  function prefix<D>(step: StepMap, stateSize: number, x0: tf.Tensor, theta: Params): State {
    const s0 = initialState(x0, stateSize);
    return advance(step, s0, theta, steps - K, true);
  }

  function baseWork<D>(problem: Problem<D> | FixedPointProblem<D>): Work {
    const w = emptyWork();
    w.innerIterations = steps;
    if (problem.kind === 'energy') w.gradEvals = steps;
    else w.energyEvals = steps;
    return w;
  }

  function addCounts<D>(w: Work, extra: Partial<Work>, problem: Problem<D> | FixedPointProblem<D>): void {
    w.innerIterations += extra.innerIterations ?? 0;
    if (problem.kind === 'energy') {
      w.gradEvals += extra.gradEvals ?? 0;
      // Each step VJP of a gradient step is one HVP and one mixed product.
      w.hvps += extra.vjps ?? 0;
    } else {
      w.energyEvals += extra.gradEvals ?? 0;
    }
    w.vjps += extra.vjps ?? 0;
    w.jvps += extra.jvps ?? 0;
  }

  function sweep<D>(
    problem: Problem<D> | FixedPointProblem<D>,
    theta: Params,
    data: D,
    x0: tf.Tensor,
    terminal: (x: tf.Tensor, theta: Params) => tf.Tensor,
    forceReverse: boolean,
  ): { result: Sweep; work: Work } {
    const stepSize = resolveStepSize(problem, theta, data, options.stepSize);
    const { step, stateSize } = makeStep(problem, data, method, stepSize, momentum);
    const work = baseWork(problem);
    const start = prefix(step, stateSize, x0, theta);
    try {
      const result =
        mode === 'forward' && !forceReverse
          ? forwardSweep(step, start, theta, K, terminal)
          : reverseSweep(step, start, theta, K, segmentLength(memory, K), terminal);
      addCounts(work, result.work, problem);
      return { result, work };
    } finally {
      disposeState(start);
    }
  }

  return {
    name: 'unrolled',
    options: Object.freeze({ ...options }),

    compute<D = Data>(request: HypergradientRequest<D>): HypergradientResult {
      const started = performance.now();
      checkProblem(request?.problem);
      const { problem, theta, data } = request;
      const loss = request.loss as Loss<D>;
      if (typeof loss !== 'function') throw new Error(`${WHERE}: request.loss must be a function (x, theta, data) => scalar.`);
      const x0 = startPoint(problem, theta, data, request.x0);
      let swept: { result: Sweep; work: Work };
      try {
        swept = sweep(problem, theta, data, x0, (x, th) => loss(x, th, data), false);
      } finally {
        x0.dispose();
      }
      const { result, work } = swept;
      const residual = forwardResidual(problem, result.xT, theta, data);
      work.gradEvals += problem.kind === 'energy' ? 1 : 0;
      remember(result.xT);
      const measure = problem.kind === 'energy' ? '‖∇ₓΦ(x_T)‖' : '‖T(x_T) − x_T‖';
      let converged = true;
      let message: string;
      if (!Number.isFinite(residual) || !Number.isFinite(result.value)) {
        converged = false;
        message = `${WHERE}: the iteration diverged (${measure} = ${residual}, loss = ${result.value}); reduce stepSize (s < 2/L for gradient descent).`;
      } else if (request.tol != null) {
        converged = residual <= request.tol;
        message = converged
          ? `${WHERE}: ${steps} steps, ${measure} = ${residual.toExponential(3)} ≤ tol ${request.tol}.`
          : `${WHERE}: after ${steps} steps ${measure} = ${residual.toExponential(3)} > tol ${request.tol}; increase 'steps' (or the step size) to reach it.`;
      } else {
        message = `${WHERE}: exact gradient of ${steps} unrolled steps (no tol requested); ${measure} = ${residual.toExponential(3)}.`;
      }
      work.timeMs = performance.now() - started;
      const grad = result.grad;
      const x = result.xT;
      return {
        value: result.value,
        grad,
        x,
        work,
        status: converged ? 'converged' : 'forward-not-converged',
        converged,
        residuals: { forward: residual },
        message,
        strategy: 'unrolled',
        dispose() {
          disposeParams(grad);
          x.dispose();
        },
      };
    },

    solve(request) {
      const started = performance.now();
      checkProblem(request?.problem);
      const { problem, theta, data } = request;
      const stepSize = resolveStepSize(problem, theta, data, options.stepSize);
      const { step, stateSize } = makeStep(problem, data, method, stepSize, momentum);
      const x0 = startPoint(problem, theta, data, request.x0);
      const final = advance(step, initialState(x0, stateSize), theta, steps, true);
      x0.dispose();
      const x = final[0];
      disposeState(final.slice(1));
      const residual = forwardResidual(problem, x, theta, data);
      remember(x);
      const converged = request.tol == null ? Number.isFinite(residual) : residual <= request.tol;
      const work = baseWork(problem);
      work.timeMs = performance.now() - started;
      return {
        x,
        residual,
        converged,
        message: converged
          ? `${WHERE}: ${steps} steps, residual ${residual.toExponential(3)}.`
          : `${WHERE}: after ${steps} steps the residual ${residual.toExponential(3)} misses tol ${request.tol}; increase 'steps'.`,
        work,
      };
    },

    vjpSolution(request) {
      const started = performance.now();
      checkProblem(request?.problem);
      const { problem, theta, data, cotangent } = request;
      if (!tf.util.arraysEqual(request.x.shape, cotangent.shape)) {
        throw new Error(`${WHERE}.vjpSolution: cotangent has shape [${cotangent.shape}], expected the shape of x [${request.x.shape}].`);
      }
      const x0 = problem.initialPoint(theta, data);
      let swept: { result: Sweep; work: Work };
      try {
        swept = sweep(problem, theta, data, x0, (x) => tf.sum(tf.mul(x, cotangent)), true);
      } finally {
        x0.dispose();
      }
      swept.result.xT.dispose();
      swept.work.timeMs = performance.now() - started;
      return { grad: swept.result.grad, converged: true, message: `${WHERE}: VJP through ${K} unrolled steps.`, work: swept.work };
    },

    reset() {
      warm?.dispose();
      warm = undefined;
    },
  };
}


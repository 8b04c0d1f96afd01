import { tf } from '../tf.js';
import type { Params } from '../params.js';
import { addParams, disposeParams } from '../params.js';
import type { Data } from '../problem.js';
import { addWork, emptyWork } from '../work.js';
import type { HypergradientRequest, HypergradientResult, HypergradientStatus, SolveRequest, SolveResult, SolutionVjpRequest, SolutionVjpResult, ValueResult } from '../strategy.js';
import type { AnyProblem, DrivenStrategy, ForwardOutcome, RuleValueOutcome, StrategyParts } from './types.js';
import { WarmSlot, checkWarmTensor, prefixWarmState, unprefixWarmState, type WarmState } from './warm.js';
import { splitLoss } from './loss-split.js';
import { buildResult } from './result.js';
import { checkOptions, opt, resolveAccuracy } from '../options.js';

// Kinds are checked below with the driver's own messages; this catches misspelt keys.
const PARTS_SCHEMA = Object.fromEntries(['name', 'forward', 'rule', 'defaults', 'softDefaults', 'options', 'warmStart', 'kindHint', 'reset'].map((k) => [k, opt.any()]));

function keepParams(p: Params): Params {
  for (const k of Object.keys(p)) tf.keep(p[k]);
  return p;
}

/**
 * Builds a strategy from a forward solve and a differentiation rule: the core driver.
 *
 * `compute` (the hypergradient) runs: problem-kind check → warm start → forward solve →
 * loss split `(ℓ, ∇ₓℓ, ∇_θℓ)` → `rule.vjp` with `v = ∇ₓℓ` → `∇F = ∇_θℓ + (∂x̂/∂θ)ᵀ∇ₓℓ` →
 * work and wall time → {@link buildResult}. A rule with `throughForward` replaces the middle
 * three steps by its fused sweep. `value` (a value-only request: a line-search trial) runs the
 * forward solve, ℓ and the rule's forward-only `valueBound`, never the backward solve. `solve` and
 * `vjpSolution` are the two halves `argmin` needs. Accuracies: the request's, else `parts.defaults`, else the solver's own.
 * The convergence policy is applied by the callers (`hypergradient`, `argmin`, outer's
 * oracle), so `compute` always returns the flagged result.
 *
 * @param parts - name, forward solve, rule, defaults, options, warm start.
 * @returns the user-facing {@link DrivenStrategy}.
 * @example
 * ```ts
 * const strategy = defineStrategy({ name: 'implicit(lbfgs, cg)', forward: innerForward(lbfgs()), rule: implicitAdjoint(cg()), options: {}, warmStart: true });
 * const r = hypergradient({ problem, theta, data, loss, strategy });
 * ```
 */
export function defineStrategy<A = unknown, O extends object = object>(parts: StrategyParts<A, O>): DrivenStrategy<O> {
  if (parts == null || typeof parts.name !== 'string' || parts.forward == null || typeof parts.forward.solve !== 'function' || parts.rule == null || typeof parts.rule.vjp !== 'function') {
    throw new Error('defineStrategy: give { name, forward: { solve }, rule: { vjp }, options }.');
  }
  checkOptions('defineStrategy', parts, PARTS_SCHEMA);
  const { name, forward, rule } = parts;
  const defaults = parts.defaults ?? {};
  const soft = parts.softDefaults ?? {};
  // The precedence rule: request > strategy option set by the user > solver option set by the
  // user (left to the solver: undefined) > the strategy's exported default.
  const pick = (perCall: number | undefined, strategy: number | undefined, solver: number | undefined, fallback: number | undefined) =>
    resolveAccuracy(strategy, perCall, solver != null ? undefined : fallback);
  const accuracy = (r: { tol?: number; maxIter?: number; linearTol?: number; linearMaxIter?: number }) => ({
    tol: pick(r.tol, defaults.tol, forward.explicit?.tol, soft.tol),
    maxIter: pick(r.maxIter, defaults.maxIter, forward.explicit?.maxIter, soft.maxIter),
    linearTol: pick(r.linearTol, defaults.linearTol, rule.explicit?.tol, soft.linearTol),
    linearMaxIter: pick(r.linearMaxIter, defaults.linearMaxIter, rule.explicit?.maxIter, soft.linearMaxIter),
  });
  const warmX = new WarmSlot();

  function checkKind<D>(problem: unknown): AnyProblem<D> {
    const kind = (problem as { kind?: string } | null)?.kind;
    if (kind == null || !(forward.kinds as readonly string[]).includes(kind)) {
      const wanted = forward.kinds.map((k) => ({ energy: 'defineProblem', 'fixed-point': 'defineFixedPoint', saddle: 'defineSaddle' })[k]).join(' or ');
      throw new Error(`${name}: 'problem' must come from ${wanted}(...)${kind != null ? `, got a '${kind}' problem` : ''}.${parts.kindHint ? ` ${parts.kindHint}` : ''}`);
    }
    return problem as AnyProblem<D>;
  }

  function startPoint<D>(problem: AnyProblem<D>, theta: Params, data: D, x0: tf.Tensor | undefined): tf.Tensor | undefined {
    if (x0 != null) return x0;
    if (!parts.warmStart || !warmX.held) return undefined;
    // Reuse only when the shape still matches the problem's starting point (a new batch size drops it).
    if ((problem as { init?: unknown }).init == null) return warmX.get(warmX.shape!);
    const init = tf.tidy(() => problem.initialPoint(theta, data));
    const shape = init.shape;
    init.dispose();
    return warmX.get(shape);
  }

  function remember(x: tf.Tensor, residual: number): void {
    if (parts.warmStart && Number.isFinite(residual)) warmX.set(x);
  }

  function solveForward<D>(problem: AnyProblem<D>, theta: Params, data: D, x0: tf.Tensor | undefined, tol: number | undefined, maxIter: number | undefined): ForwardOutcome<A> {
    const start = startPoint(problem, theta, data, x0);
    const out = forward.solve<D>({ problem, theta, data, x0: start, tol, maxIter });
    tf.keep(out.x);
    // The warm start is committed by the caller once the whole call succeeded: a call that
    // throws (a failing loss, a refused certificate) leaves the strategy's state as it was.
    return out;
  }

  function compute<D = Data>(request: HypergradientRequest<D>): HypergradientResult {
    const t0 = performance.now();
    const problem = checkKind<D>(request?.problem);
    const { theta, data, loss } = request;
    if (typeof loss !== 'function') throw new Error(`${name}: request.loss must be a function (x, theta, data) => scalar.`);
    const { tol, maxIter, linearTol, linearMaxIter } = accuracy(request);
    if (rule.throughForward != null) {
      const start = startPoint(problem, theta, data, request.x0);
      const fused = rule.throughForward<D>({ problem, theta, data, x0: start, tol, maxIter, terminal: (x, th) => loss(x, th, data) });
      fused.forward.disposeAux?.();
      tf.keep(fused.forward.x);
      keepParams(fused.grad);
      remember(fused.forward.x, fused.forward.residual);
      const work = addWork(fused.forward.work, fused.work);
      work.timeMs = performance.now() - t0;
      return buildResult({ strategy: name, value: fused.value, grad: fused.grad, x: fused.forward.x, forward: fused.forward, work });
    }
    const fwd = solveForward(problem, theta, data, request.x0, tol, maxIter);
    let grad: Params;
    let value: number;
    let back;
    try {
      const split = splitLoss(loss, fwd.x, theta, data);
      value = split.value;
      try {
        back = rule.vjp<D>({
          problem, theta, data, forward: fwd, cotangent: split.gx, purpose: 'hypergradient', linearTol, linearMaxIter,
        });
      } catch (e) {
        disposeParams(split.gTheta);
        throw e;
      } finally {
        split.gx.dispose();
      }
      grad = keepParams(tf.tidy(() => addParams(split.gTheta, back!.grad)));
      disposeParams(split.gTheta);
      disposeParams(back.grad);
      back.dataGrad?.dispose();
    } catch (e) {
      fwd.x.dispose();
      throw e;
    } finally {
      fwd.disposeAux?.();
    }
    // The loss split is one VJP; the rule counts its own.
    const work = addWork(fwd.work, back.work, { vjps: 1 });
    work.timeMs = performance.now() - t0;
    remember(fwd.x, fwd.residual);
    return buildResult({ strategy: name, value, grad, x: fwd.x, forward: fwd, backward: back, work });
  }

  // A value-only request: the forward solve, ℓ(x̃) and the rule's forward-only value bound; the
  // backward solve (and its warm start) is left alone.
  function value<D = Data>(request: HypergradientRequest<D>): ValueResult {
    const t0 = performance.now();
    const problem = checkKind<D>(request?.problem);
    const { theta, data, loss } = request;
    if (typeof loss !== 'function') throw new Error(`${name}: request.loss must be a function (x, theta, data) => scalar.`);
    const { tol, maxIter } = accuracy(request);
    const fwd = solveForward(problem, theta, data, request.x0, tol, maxIter);
    let lossValue: number;
    let bounded: RuleValueOutcome = {};
    try {
      if (rule.valueBound != null) {
        // the bound reads ∇ₓℓ(x̃) (one VJP, as the loss split of a hypergradient)
        const split = splitLoss(loss, fwd.x, theta, data);
        disposeParams(split.gTheta);
        try {
          lossValue = split.value;
          bounded = { ...rule.valueBound<D>({ problem, theta, data, forward: fwd, cotangent: split.gx }) };
          bounded.work = addWork(bounded.work, { vjps: 1 });
        } finally {
          split.gx.dispose();
        }
      } else {
        lossValue = tf.tidy(() => {
          const y = loss(fwd.x, theta, data);
          if (!(y instanceof tf.Tensor) || y.rank !== 0) throw new Error(`loss: must return a scalar tensor, got ${y instanceof tf.Tensor ? `shape [${y.shape}]` : typeof y}; sum or average it.`);
          return y.dataSync()[0];
        });
      }
    } catch (e) {
      fwd.x.dispose();
      throw e;
    } finally {
      fwd.disposeAux?.();
    }
    const work = addWork(fwd.work, bounded.work);
    work.timeMs = performance.now() - t0;
    remember(fwd.x, fwd.residual);
    const ok = fwd.converged && Number.isFinite(fwd.residual) && Number.isFinite(lossValue);
    const status: HypergradientStatus = !ok ? 'forward-not-converged' : fwd.status === 'fixed-steps' ? 'fixed-steps' : 'converged';
    const x = fwd.x;
    return {
      value: lossValue, x, valueBound: bounded.valueBound, work, status, converged: ok, residuals: { forward: fwd.residual },
      message: [fwd.message, bounded.note].filter((m): m is string => m != null && m !== '').join('; '), strategy: name,
      dispose() {
        if (!x.isDisposed) x.dispose();
      },
    };
  }

  function solve<D = Data>(request: SolveRequest<D>): SolveResult {
    const t0 = performance.now();
    const problem = checkKind<D>(request?.problem);
    const { tol, maxIter } = accuracy(request);
    const fwd = solveForward(problem, request.theta, request.data, request.x0, tol, maxIter);
    fwd.disposeAux?.();
    remember(fwd.x, fwd.residual);
    const work = addWork(fwd.work);
    work.timeMs = performance.now() - t0;
    const converged = fwd.converged && Number.isFinite(fwd.residual);
    return { x: fwd.x, residual: fwd.residual, converged, message: fwd.message, work };
  }

  function vjpSolution<D = Data>(request: SolutionVjpRequest<D>): SolutionVjpResult {
    const t0 = performance.now();
    const problem = checkKind<D>(request?.problem);
    const { x, cotangent } = request;
    if (!tf.util.arraysEqual(x.shape, cotangent.shape)) {
      throw new Error(`${name}.vjpSolution: cotangent has shape [${cotangent.shape}], expected the shape of x [${x.shape}].`);
    }
    const bare: ForwardOutcome<A> = { x, residual: NaN, converged: true, status: 'converged', message: '', iterations: 0, work: emptyWork() };
    const { linearTol, linearMaxIter } = accuracy(request);
    const back = rule.vjp<D>({
      problem, theta: request.theta, data: request.data, forward: bare, cotangent, purpose: 'argmin', wrtData: request.wrtData, linearTol, linearMaxIter,
    });
    const work = addWork(back.work);
    work.timeMs = performance.now() - t0;
    const converged = back.converged && (back.residual == null || Number.isFinite(back.residual));
    return { grad: back.grad, dataGrad: back.dataGrad, residual: back.residual, converged, message: back.message, work };
  }

  const strategy: DrivenStrategy<O> = {
    name,
    options: parts.options,
    forward: forward as DrivenStrategy['forward'],
    rule: rule as DrivenStrategy['rule'],
    get accuracy() {
      const a = accuracy({});
      return {
        tol: a.tol ?? forward.explicit?.tol, maxIter: a.maxIter ?? forward.explicit?.maxIter,
        linearTol: a.linearTol ?? rule.explicit?.tol, linearMaxIter: a.linearMaxIter ?? rule.explicit?.maxIter,
      };
    },
    get warm() {
      return { x: warmX.held };
    },
    compute,
    value,
    solve,
    vjpSolution,
    reset() {
      warmX.clear();
      rule.reset?.();
      parts.reset?.();
    },
    warmState() {
      const x = warmX.snapshot();
      return { ...(x != null ? { x } : {}), ...prefixWarmState({ forward: forward.warmState?.(), rule: rule.warmState?.() }) };
    },
    loadWarmState(state: WarmState) {
      const where = `${name}.loadWarmState`;
      if (state == null || typeof state !== 'object') throw new Error(`${where}: pass the object warmState() returned.`);
      for (const slot of Object.keys(state)) {
        const known = slot === 'x' || (slot.startsWith('rule.') && rule.loadWarmState != null) || (slot.startsWith('forward.') && forward.loadWarmState != null);
        if (!known) throw new Error(`${where}: unknown warm-state slot '${slot}'; the state was saved by another strategy (this one is '${name}').`);
      }
      if (state.x != null) checkWarmTensor(where, 'x', state.x);
      // Everything is replaced: slots missing from `state` are emptied, as in the saved strategy.
      warmX.restore(state.x);
      if (rule.loadWarmState != null) rule.loadWarmState(unprefixWarmState(state, 'rule'));
      else rule.reset?.();
      forward.loadWarmState?.(unprefixWarmState(state, 'forward'));
    },
    dispose() {
      strategy.reset();
    },
  };
  return strategy;
}

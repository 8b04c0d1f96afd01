/**
 * MAID: Method of Adaptive Inexact Descent (Salehi, Mukherjee, Roberts & Ehrhardt,
 * "An adaptively inexact first-order method for bilevel optimization with application to
 * hyperparameter learning", SIAM J. Math. Data Sci. 2025, Algorithm 3.1; restated as Algorithm 3 of
 * Bogensperger, Ehrhardt, Pock, Salehi & Wong, "An adaptively inexact method for bilevel
 * learning using primal-dual style differentiation", arXiv preprint 2024).
 *
 * @packageDocumentation
 */
import { addWork, emptyWork, normParams, workUnits, type Params, type Work } from '@bilevel/core';
import type { Method, MethodStateBase, Oracle, StepContext, StepInfo } from './types.js';
import { toArrays, withParams, gradientStep, requireGrad, checkRange, checkInt, checkKeys } from './internal/util.js';

/** Options of {@link maid}. */
export interface MaidOptions {
  /** Initial inner tolerance ε₀ on ‖∇ₓΦ‖ (the oracle's `tol`). */
  tol0: number;
  /** Initial adjoint tolerance δ₀ (the oracle's `linearTol`); default `tol0`. */
  linearTol0?: number;
  /** Initial step size α₀. */
  step0: number;
  /** η ∈ [0, 1): descent test `bound ≤ (1 − η)‖h‖` (Salehi et al. 2025: ω ≤ ‖z‖). */
  descentMargin: number;
  /** c > 0: sufficient decrease `F̃(θ⁺) + Δ⁺ ≤ F̃(θ) − Δ − c α‖h‖²`. */
  decrease: number;
  /** ρ̲ ∈ (0, 1): step reduction per failed backtrack. */
  stepShrink: number;
  /** ρ̄ ≥ 1: step increase after a successful iteration. */
  stepGrow: number;
  /** ν̲ ∈ (0, 1): accuracy reduction (ε, δ ← ν̲ε, ν̲δ) after a failed descent test or line search. */
  accuracyShrink: number;
  /** ν̄ ≥ 1: accuracy relaxation (ε, δ ← ν̄ε, ν̄δ) after a successful iteration. */
  accuracyGrow: number;
  /** J₀: backtracks of the first line-search round; each failed round allows one more (Algorithm 3). */
  maxBacktracks: number;
  /** Accuracy reductions allowed within one iteration before MAID stops with 'accuracy-limit'. */
  maxAccuracyReductions: number;
  /** Stop with 'stationary' once the certified ‖∇F(θ)‖ ≤ ‖h‖ + bound ≤ gradTol. Default 0 (never). */
  gradTol: number;
  /** Floor on the inner tolerance: a reduction below it stops with 'accuracy-limit'. Default 0. */
  minTol: number;
  /**
   * Relative stationarity r ≥ 0: stop with 'stationary' once the certified ‖∇F(θ_k)‖ ≤ ‖h_k‖ + ω_k is at most
   * r·‖h₀‖ (‖h₀‖ the first iteration's hypergradient norm). This ends the run where the hypergradient's norm is
   * within its certified error of a point already stationary to that relative accuracy, instead of halving ε until
   * descent is certified there (near stationarity that costs more lower-level work per iteration than all earlier
   * iterations together). Default 0 (never).
   */
  relativeGradTol: number;
}

/**
 * Defaults. ν̲ = 0.5, ν̄ = 1.05, ρ̲ = 0.5, ρ̄ = 10/9 are those of Bogensperger et al. (2024, §4.1), "following" the MAID paper
 * (the MAID paper); η = c = 10⁻⁴ and 10 backtracks are those of the MAID reference code.
 * `tol0` and `step0` are problem-dependent: give them (Salehi et al. 2025 report MAID robust to ε₀).
 */
export const MAID_DEFAULTS: Readonly<Omit<MaidOptions, 'tol0' | 'linearTol0' | 'step0'>> & { tol0: number; step0: number } = Object.freeze({
  tol0: 1e-1,
  step0: 1,
  descentMargin: 1e-4,
  decrease: 1e-4,
  stepShrink: 0.5,
  stepGrow: 10 / 9,
  accuracyShrink: 0.5,
  accuracyGrow: 1.05,
  maxBacktracks: 10,
  maxAccuracyReductions: 30,
  gradTol: 0,
  minTol: 0,
  relativeGradTol: 0,
});

/** MAID's explicit, JSON-serialisable state. */
export interface MaidState extends MethodStateBase {
  /** Current ε (oracle `tol`) and δ (oracle `linearTol`). */
  tol: number;
  linearTol: number;
  /** Current initial step α. */
  step: number;
  /** ‖h₀‖, the first hypergradient's norm (set by the first step; the scale of `relativeGradTol`). */
  gradNorm0?: number;
}

const KEYS = ['tol0', 'linearTol0', 'step0', 'descentMargin', 'decrease', 'stepShrink', 'stepGrow', 'accuracyShrink', 'accuracyGrow', 'maxBacktracks', 'maxAccuracyReductions', 'gradTol', 'minTol', 'relativeGradTol'] as const;

/**
 * Creates MAID. One `step` is one upper-level iteration k:
 *
 * 1. h_k, F̃(θ_k), bound ω_k, Δ_k from the oracle at accuracies (ε_k, δ_k);
 *    while ω_k > (1 − η)‖h_k‖ (descent not certified): ε_k, δ_k ← ν̲ε_k, ν̲δ_k and recompute
 *    (−h_k is then a descent direction: ‖h_k − ∇F‖ < ‖h_k‖ ⇒ ⟨h_k, ∇F⟩ > 0, Salehi et al. 2025).
 * 2. Backtracking, at most J trials α = α_k ρ̲ʲ (j = 0..J−1): θ̂ = prox(θ_k − α h_k), accept if
 *    F̃(θ̂) + J(θ̂) + Δ̂ ≤ F̃(θ_k) + J(θ_k) − Δ_k − c‖θ̂ − θ_k‖²/α
 *    (= −cα‖h_k‖² without a proximal term; Δ = ‖∇ₓℓ‖ε + Lε²/2, Salehi et al. 2025). Each trial is a
 *    value request (`{ valueOnly: true }`): Δ̂ needs the forward accuracy only (Bogensperger et al. 2024,
 *    Lemma 5, (26)), so the oracle runs no adjoint solve there.
 *    If all J trials fail: ε_k, δ_k ← ν̲ε_k, ν̲δ_k, J ← J + 1, back to 1. Each round
 *    restarts from α_k, as in the single-iteration statement of MAID by Salehi et al. (2025) and
 *    the reference code; Algorithm 3 of Bogensperger et al. (2024) keeps shrinking α across rounds instead,
 *    which drives α to zero faster than the accuracies can resolve the decrease.
 * 3. θ_{k+1} = θ̂, ε_{k+1} = ν̄ε_k, δ_{k+1} = ν̄δ_k, α_{k+1} = ρ̄α.
 *
 * Stops (the step's `stop`, then `train`'s status, each with a message): 'stationary' when the certified
 * ‖∇F(θ_k)‖ ≤ ‖h_k‖ + ω_k is ≤ `gradTol` or ≤ `relativeGradTol`·‖h₀‖ — checked after every hypergradient, also
 * inside the descent test's accuracy reductions, which near a stationary point is where MAID would otherwise
 * spend most of its work (ω_k ∝ ε_k must fall below ‖h_k‖ → ‖∇F(θ_k)‖ ≈ 0); 'accuracy-limit' when ε would fall
 * below `minTol`, `maxAccuracyReductions` are spent or the oracle reports it could not reach ε;
 * 'budget-work' when `train`'s `budget.work` runs out inside the step (`StepContext.workLeft`, checked before
 * every further oracle call; θ_k is kept); 'backtracking-failed'; 'oracle-failed'.
 *
 * If the sufficient decrease test holds, F(θ_{k+1}) ≤ F(θ_k) − cα‖h_k‖² for the exact F
 * (Salehi et al. 2025: the Δ terms make the inexact test imply decrease of the exact F), so the exact objective decreases monotonically.
 *
 * @param options - {@link MaidOptions}; missing ones default to {@link MAID_DEFAULTS}.
 * @returns a {@link Method} with state {@link MaidState}.
 * @example
 * ```ts
 * const method = maid({ tol0: 1e-1, step0: 1 });
 * let state = method.init(theta0);
 * for (let k = 0; k < 50; k++) ({ state } = method.step(state, oracle));
 * ```
 */
export function maid(options: Partial<MaidOptions> = {}): Method<MaidState> & { readonly options: Readonly<MaidOptions> } {
  const where = 'maid';
  if (options == null || typeof options !== 'object') throw new Error(`${where}: options must be an object, e.g. maid({ tol0: 1e-1, step0: 1 }).`);
  checkKeys(where, options, KEYS);
  const o: MaidOptions = { ...MAID_DEFAULTS, ...options, linearTol0: options.linearTol0 ?? options.tol0 ?? MAID_DEFAULTS.tol0 };
  checkRange(where, 'tol0', o.tol0, 0, Infinity, true, true, 'give the initial inner tolerance, e.g. 1e-1');
  checkRange(where, 'linearTol0', o.linearTol0, 0, Infinity, true, true, 'give the initial adjoint tolerance, e.g. 1e-1');
  checkRange(where, 'step0', o.step0, 0, Infinity, true, true, 'give a positive initial step, e.g. 1 (backtracking shrinks it)');
  checkRange(where, 'descentMargin', o.descentMargin, 0, 1, false, true, 'use a small margin such as 1e-4');
  checkRange(where, 'decrease', o.decrease, 0, 1, true, true, 'use e.g. 1e-4');
  checkRange(where, 'stepShrink', o.stepShrink, 0, 1, true, true, 'use e.g. 0.5');
  checkRange(where, 'stepGrow', o.stepGrow, 1, Infinity, false, true, 'use e.g. 10/9 (1 keeps the step)');
  checkRange(where, 'accuracyShrink', o.accuracyShrink, 0, 1, true, true, 'use e.g. 0.5');
  checkRange(where, 'accuracyGrow', o.accuracyGrow, 1, Infinity, false, true, 'use e.g. 1.05 (1 keeps the accuracy)');
  checkInt(where, 'maxBacktracks', o.maxBacktracks, 1, 'use e.g. 10');
  checkInt(where, 'maxAccuracyReductions', o.maxAccuracyReductions, 0, 'use e.g. 30');
  checkRange(where, 'gradTol', o.gradTol, 0, Infinity, false, true, 'use 0 to disable');
  checkRange(where, 'minTol', o.minTol, 0, Infinity, false, true, 'use 0 for no floor');
  checkRange(where, 'relativeGradTol', o.relativeGradTol, 0, 1, false, false, 'use e.g. 1e-2 (0 disables)');
  const opts = Object.freeze(o);

  function init(theta: Params): MaidState {
    return { theta: toArrays(theta), iteration: 0, tol: opts.tol0, linearTol: opts.linearTol0!, step: opts.step0 };
  }

  /** Why no further accuracy reduction is possible, or undefined when one is. */
  function accuracyLimit(reductions: number, tol: number, converged: boolean | undefined): string | undefined {
    if (converged === false) return 'the oracle could not reach the current accuracy (raise the solvers\' maxIter, or accept this θ)';
    if (reductions >= opts.maxAccuracyReductions) return `${reductions} accuracy reductions were spent (raise maxAccuracyReductions)`;
    if (tol * opts.accuracyShrink < opts.minTol) return `the next tolerance would fall below minTol = ${opts.minTol}`;
    return undefined;
  }

  function step(state: MaidState, oracle: Oracle, context: StepContext = {}): { state: MaidState; info: StepInfo } {
    if (typeof oracle !== 'function') throw new Error(`${where}.step: 'oracle' must be a function (theta, { tol, linearTol }, options?) => OracleResult.`);
    const proximal = context.proximal;
    let tol = state.tol;
    let linearTol = state.linearTol;
    let alpha = state.step;
    let budget = opts.maxBacktracks;
    let reductions = 0;
    let work: Work = emptyWork();
    let evaluations = 0;
    const done = (s: Partial<MaidState>, info: Omit<StepInfo, 'iteration' | 'work' | 'evaluations'>) => ({
      state: { ...state, ...s, iteration: state.iteration + (info.accepted ? 1 : 0) },
      info: { ...info, iteration: state.iteration, work, evaluations },
    });

    let gradNorm0 = state.gradNorm0;
    // the last hypergradient's value, norm and bound (what a stop inside the iteration reports)
    const last = { value: NaN, gradNorm: NaN, bound: NaN, tol, linearTol };
    // train()'s work budget left for this iteration: checked before every further oracle call, so that one
    // iteration's accuracy reductions or backtracks cannot overshoot the budget many times over.
    const workLeft = context.workLeft;
    const overBudget = (what: string) =>
      workLeft != null && workUnits(work) >= workLeft
        ? done({ tol, linearTol, gradNorm0 }, { ...last, step: 0, accepted: false, stop: 'budget-work', message: `${where}: the work budget ran out inside iteration ${state.iteration} (${workUnits(work)} of the ${workLeft} work units left, before ${what} at tol=${tol}; the last hypergradient, at tol=${last.tol}, had ‖h‖ = ${last.gradNorm} and bound ${last.bound}); θ_${state.iteration} is kept.` })
        : undefined;
    return withParams(state.theta, (theta) => {
      const penalty = proximal != null ? proximal.value(theta) : 0;
      for (;;) {
        if (evaluations > 0) {
          const out = overBudget('a hypergradient at a tighter accuracy');
          if (out != null) return out;
        }
        // 1. Inexact gradient with certified descent.
        const r = oracle(theta, { tol, linearTol });
        evaluations++;
        work = addWork(work, r.work);
        const grad: Params = requireGrad(`${where}.step`, r);
        try {
          if (Number.isNaN(r.bound)) {
            throw new Error(`${where}.step: the oracle returned no hypergradient bound (NaN); MAID needs one: give oracleFromStrategy 'constants' (BoundConstants) or use a strategy that reports 'bound'.`);
          }
          if (Number.isNaN(r.valueBound)) {
            throw new Error(`${where}.step: the oracle returned no valueBound (NaN); MAID's line search needs Δ = ‖∇ₓℓ‖ε + Lε²/2: give oracleFromStrategy 'constants' (with lossLipschitz).`);
          }
          if (!Number.isFinite(r.value)) {
            return done({ tol, linearTol }, { value: r.value, gradNorm: NaN, bound: r.bound, tol, linearTol, step: 0, accepted: false, stop: 'oracle-failed', message: `${where}: the oracle returned a non-finite value ${r.value} at θ_${state.iteration}; check the problem (NaN in the energy?) or lower step0.` });
          }
          const value = r.value + penalty;
          const gradNorm = normParams(grad);
          gradNorm0 ??= gradNorm;
          Object.assign(last, { value, gradNorm, bound: r.bound, tol, linearTol });
          if (gradNorm === 0 || gradNorm + r.bound <= opts.gradTol) {
            return done({ tol, linearTol }, { value, gradNorm, bound: r.bound, tol, linearTol, step: 0, accepted: false, stop: 'stationary', message: `${where}: certified ‖∇F(θ)‖ ≤ ‖h‖ + bound = ${gradNorm + r.bound} ≤ gradTol = ${opts.gradTol}.` });
          }
          if (gradNorm + r.bound <= opts.relativeGradTol * gradNorm0) {
            return done({ tol, linearTol, gradNorm0 }, { value, gradNorm, bound: r.bound, tol, linearTol, step: 0, accepted: false, stop: 'stationary', message: `${where}: certified ‖∇F(θ_${state.iteration})‖ ≤ ‖h‖ + bound = ${gradNorm + r.bound} ≤ relativeGradTol·‖h₀‖ = ${opts.relativeGradTol}·${gradNorm0} (stationary to the certified accuracy asked for; lower relativeGradTol to continue).` });
          }
          if (!(r.bound <= (1 - opts.descentMargin) * gradNorm)) {
            // Descent not certified: tighten both accuracies (Salehi et al. 2025, Algorithm 3.1, step 2).
            const limit = accuracyLimit(reductions, tol, r.converged);
            if (limit != null) {
              return done({ tol, linearTol }, { value, gradNorm, bound: r.bound, tol, linearTol, step: 0, accepted: false, stop: 'accuracy-limit', message: `${where}: descent cannot be certified: the bound ${r.bound} exceeds (1−η)‖h‖ = ${(1 - opts.descentMargin) * gradNorm} at tol=${tol}, linearTol=${linearTol}, and ${limit}. θ is stationary to the attainable accuracy, or the BoundConstants are too pessimistic.` });
            }
            tol *= opts.accuracyShrink;
            linearTol *= opts.accuracyShrink;
            reductions++;
            continue;
          }
          // 2. Backtracking line search with inexact sufficient decrease.
          const rhsBase = value - r.valueBound;
          // Each round restarts from the iteration's initial step: α_k = αρ̲ʲ, j < J (Salehi et al. 2025).
          alpha = state.step;
          for (let j = 0; j < budget; j++) {
            const out = overBudget(`line-search trial ${j + 1}`);
            if (out != null) return out;
            const { next, moveSq } = gradientStep(theta, grad, alpha, proximal);
            const trial = withParams(next, (thetaHat) => {
              const t = oracle(thetaHat, { tol, linearTol }, { valueOnly: true });
              evaluations++;
              work = addWork(work, t.work);
              const v = t.value + (proximal != null ? proximal.value(thetaHat) : 0);
              const vb = t.valueBound;
              t.dispose();
              return { v, vb };
            });
            if (trial.v + trial.vb <= rhsBase - (opts.decrease * moveSq) / alpha) {
              return done(
                { theta: next, tol: tol * opts.accuracyGrow, linearTol: linearTol * opts.accuracyGrow, step: alpha * opts.stepGrow, gradNorm0 },
                { value, gradNorm, bound: r.bound, tol, linearTol, step: alpha, accepted: true },
              );
            }
            alpha *= opts.stepShrink;
          }
          // Backtracking failed: needs higher accuracy (Algorithm 3, lines 9–10).
          const limit = accuracyLimit(reductions, tol, r.converged);
          if (limit != null) {
            return done({ tol, linearTol }, { value, gradNorm, bound: r.bound, tol, linearTol, step: 0, accepted: false, stop: 'backtracking-failed', message: `${where}: no sufficient decrease at tol=${tol} (smallest step tried ${alpha / opts.stepShrink}), and ${limit}. The inexact values cannot resolve a decrease: θ is near-stationary for this accuracy, or check lossLipschitz.` });
          }
          tol *= opts.accuracyShrink;
          linearTol *= opts.accuracyShrink;
          reductions++;
          budget++;
        } finally {
          r.dispose();
        }
      }
    });
  }

  return { name: 'maid', options: opts, init, step };
}

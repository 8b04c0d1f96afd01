import { tf, addWork, statusMessage, formatNumber as fmt } from '@bilevel/core';
import type { ForwardOutcome, ForwardSolve, Params, SaddleProblem, SolveStatus } from '@bilevel/core';
import { pdhg, estimateOperatorNorm, RESIDUAL_BALANCING, CONTRACTION_SEARCH } from './internal/pdhg.js';
import type { SaddleWarmStart } from './internal/warm.js';
import { diagonalSteps, checkPreconditionable, type Precondition, type Step } from './internal/precondition.js';
import type { SaddleBoundConstants } from './bound.js';

/** The options of the PDHG forward solve (the piggyback factory's, resolved). */
export interface PdhgForwardOptions {
  stepRatio: number;
  stepScale: number;
  /** σ/τ adapted during the forward ('balance': Goldstein et al. 2015; 'search': contraction search); frozen for the adjoint. */
  adaptiveSteps: false | 'balance' | 'search';
  accelerate: boolean | 'auto';
  /** Diagonal steps of Pock & Chambolle (2011) on both sides, one side, or none (false). */
  precondition: Precondition;
  /** α ∈ [0, 2] of their T = diag(1/Σ_i|K_ij|^{2−α}), Σ = diag(1/Σ_j|K_ij|^α). */
  preconditionAlpha: number;
  normIterations: number;
  normMargin: number;
  warmStart: boolean;
  /** L₁ of ∇ₓℓ for the bound; null: no bound. */
  lossLipschitz: number | null;
  /** The smallest strong-convexity weight among the entries ℓ reads (with per-entry weights); null: all entries. */
  lossWeight: number | null;
  /** 'estimated': also record step norms (and take ≥ `estimateSteps` iterations) for the contraction estimate. */
  certificate: 'certified' | 'estimated';
  estimateSteps: number;
}

/** What the forward leaves for the adjoint rule: the dual, the steps, and whether it started warm. */
export interface SaddleAux {
  z: tf.Tensor;
  /** The steps of PDHG's last step, frozen for the adjoint: scalars, or (preconditioned) diagonal tensors owned by aux. */
  tau: Step;
  sigma: Step;
  /** The extrapolation factor of the step the adjoint linearises (1; ω_k of the last accelerated step when certified). */
  omega: number;
  /** Whether (x, z) came from the warm start (then λ may too). */
  warm: boolean;
  /** Set by the rule when it takes ownership of z. */
  taken?: boolean;
  /** PDHG's last step (start point and residual vectors) when the bound can be certified. */
  last?: { xPrev: tf.Tensor; zPrev: tf.Tensor; rp: tf.Tensor; rd: tf.Tensor };
  /** The bound's constants, or why there is no bound. */
  constants: SaddleBoundConstants | string;
  /** Whether ‖K‖ was given by the problem (else estimated by power iteration). */
  normGiven: boolean;
  /** With `certificate: 'estimated'`: PDHG's step norms ‖u_{k+1} − u_k‖ per iteration. */
  steps?: number[][];
  /** Step adaptations residual balancing made (0 without `adaptiveSteps`). */
  adaptations: number;
}

/**
 * The constants of the piggyback bound at (θ, data), or a sentence naming what is missing:
 * μ_g, μ_{f*} (strongConvexity, dualStrongConvexity), hessianLipschitz, dualHessianLipschitz and
 * operatorDerivativeNorm from `defineSaddle`, and the strategy's `lossLipschitz`.
 */
export function boundConstantsOf<D>(problem: SaddleProblem<D>, theta: Params, data: D, lossLipschitz: number | null, lossWeight: number | null, accelerate: boolean): SaddleBoundConstants | string {
  const muG = problem.mu(theta, data);
  const muFStar = problem.muDual(theta, data);
  const c = problem.boundConstants(theta, data);
  const weighted = problem.strongConvexityWeights != null && problem.dualStrongConvexityWeights != null;
  const missing = [
    !weighted && !(muG != null && muG > 0) ? 'strongConvexity (μ_g > 0)' : '',
    !weighted && !(muFStar != null && muFStar > 0) ? 'dualStrongConvexity (μ_{f*} > 0)' : '',
    c.hessianLipschitz == null ? 'hessianLipschitz' : '',
    c.dualHessianLipschitz == null ? 'dualHessianLipschitz' : '',
    c.operatorDerivativeNorm == null ? 'operatorDerivativeNorm' : '',
  ].filter((m) => m !== '');
  if (missing.length > 0) return `no hypergradient bound: defineSaddle lacks ${missing.join(', ')} (Theorem 2 of Bogensperger et al. needs them)`;
  if (lossLipschitz == null) return "no hypergradient bound: give piggyback({ lossLipschitz }) (L₁, the Lipschitz constant of ∇ₓℓ)";
  let floor: number;
  if (weighted) {
    const w = tf.tidy(() => tf.minimum(tf.min(problem.strongConvexityWeights!(theta, data)), tf.min(problem.dualStrongConvexityWeights!(theta, data))));
    floor = w.dataSync()[0];
    w.dispose();
    if (!(floor > 0)) return `no hypergradient bound: the strong-convexity weights have minimum ${floor}; they must be > 0`;
  } else floor = Math.min(muG!, muFStar!);
  // L in the weighted metric: L₁ over the smallest weight of the entries ℓ reads (default: all of them).
  const lossFloor = weighted && lossWeight != null ? lossWeight : floor;
  return { weightFloor: floor, hessianLipschitz: c.hessianLipschitz!, dualHessianLipschitz: c.dualHessianLipschitz!, lossLipschitz: lossLipschitz / lossFloor, operatorDerivativeNorm: c.operatorDerivativeNorm!, lossWeight: lossFloor };
}

/** The PDHG forward half, also callable from a given x with the kept dual (argmin's backward pass). */
export interface PdhgForward extends ForwardSolve<SaddleAux> {
  /** PDHG from x0 (and the kept dual when `dualFromWarm`); the caller owns x and aux.z. */
  run<D>(problem: SaddleProblem<D>, theta: Params, data: D, x0: tf.Tensor | undefined, tol: number, maxIter: number, dualFromWarm: boolean): ForwardOutcome<SaddleAux>;
}

/**
 * The forward half of `piggyback`: Chambolle–Pock PDHG (optionally accelerated) to an
 * approximate saddle point (x, z) of `min_x max_z ⟨K(θ)x, z⟩ + g(x) − f*(z)`, from `x0`, the warm
 * start or `init(θ, data)`, with steps `τ = s/(‖K‖√r)`, `σ = s√r/‖K‖` (‖K‖ given or estimated).
 * The dual z is left in `aux` for the adjoint; when nobody takes it (`solve`) it becomes the
 * warm start, which `argmin`'s backward pass needs.
 *
 * @param opts - steps, acceleration, norm estimate, warm start.
 * @param warm - the strategy's warm-start state (shared with the rule).
 * @returns the forward solve.
 */
export function pdhgForward(opts: PdhgForwardOptions, warm: SaddleWarmStart): PdhgForward {
  const where = 'piggyback';
  function run<D>(problem: SaddleProblem<D>, theta: Params, data: D, x0Given: tf.Tensor | undefined, tol: number, maxIter: number, dualFromWarm: boolean): ForwardOutcome<SaddleAux> {
    const init = tf.tidy(() => problem.initialPoint(theta, data));
    if (!(init instanceof tf.Tensor)) throw new Error(`${problem.name}: 'init' must return a tf.Tensor, got ${typeof init}.`);
    const xShape = init.shape;
    if (x0Given != null && !tf.util.arraysEqual(x0Given.shape, xShape)) {
      init.dispose();
      throw new Error(`${where}: 'x0' has shape [${x0Given.shape}], expected the shape of init(θ, data) [${xShape}].`);
    }
    const kept = warm.point(xShape);
    const useWarm = x0Given == null && opts.warmStart && kept != null;
    const x0 = x0Given != null ? x0Given.clone() : useWarm ? kept.x.clone() : init.clone();
    init.dispose();
    // the warm dual also serves a given x0 when asked (argmin's backward pass re-solving from x)
    const z0 = (useWarm || dualFromWarm) && kept != null ? kept.z.clone() : tf.tidy(() => problem.initialDual(theta, data, x0));
    const fail = (message: string): never => {
      tf.dispose([x0, z0]);
      throw new Error(message);
    };
    const kx = tf.tidy(() => problem.apply(x0, theta, data));
    const badShape = !tf.util.arraysEqual(kx.shape, z0.shape) ? `initial dual z₀ has shape [${z0.shape}] but K x has shape [${kx.shape}]` : null;
    const finite = tf.tidy(() => tf.all(tf.isFinite(kx)));
    const kxFinite = finite.dataSync()[0] === 1;
    tf.dispose([finite, kx]);
    if (badShape != null) fail(`${problem.name}: ${badShape}; initDual must return a tensor shaped like apply(x).`);
    if (!kxFinite) fail(`${problem.name}: K x₀ contains NaN or Inf; check 'init' and 'apply' (and θ).`);

    let work = addWork();
    const pre = opts.precondition;
    if (pre !== false) {
      try {
        checkPreconditionable(problem, pre);
      } catch (e) {
        fail((e as Error).message);
      }
    }
    // Preconditioned, the steps come from |K|'s sums (‖Σ^{1/2}KT^{1/2}‖ ≤ 1, Pock & Chambolle 2011, Lemma 2): no ‖K‖ needed.
    let norm = pre !== false ? 1 : problem.knownOperatorNorm(theta, data);
    const normGiven = norm != null;
    if (norm == null) {
      const est = estimateOperatorNorm(problem, theta, data, xShape, opts.normIterations, opts.normMargin);
      norm = est.norm;
      work = addWork(work, est.work);
      if (!(norm > 0) || !Number.isFinite(norm)) fail(`${problem.name}: the power-iteration estimate of ‖K‖ is ${norm}; check 'apply'/'adjoint' (is K zero or non-finite?) or pass 'operatorNorm'.`);
    }
    // With balancing, start from the ratio the last solve settled on (σ/τ, so the ‖K‖ of this θ still sets τσ).
    const ratio = opts.adaptiveSteps !== false && opts.warmStart && warm.ratio != null ? warm.ratio : opts.stepRatio;
    let diag: ReturnType<typeof diagonalSteps> | undefined;
    if (pre !== false) {
      try {
        diag = diagonalSteps(problem, theta, data, opts.preconditionAlpha, pre);
      } catch (e) {
        fail((e as Error).message);
      }
    }
    // T = τ·T₀, Σ = σ·Σ₀ with the diagonals (a non-diagonal side's scalar folded into τ or σ)
    const tau = (opts.stepScale * (diag?.tauScalar ?? 1)) / (norm * Math.sqrt(ratio));
    const sigma = (opts.stepScale * Math.sqrt(ratio) * (diag?.sigmaScalar ?? 1)) / norm;
    const mu = problem.mu(theta, data);
    const muDual = problem.muDual(theta, data);
    // 'auto' leaves the steps to adaptiveSteps when that is on (true with it is refused by piggyback())
    // (acceleration with diagonal steps is not Algorithm 2: 'auto' leaves preconditioned runs unaccelerated)
    const accelerate = opts.accelerate === 'auto' ? opts.adaptiveSteps === false && pre === false && mu != null && mu > 0 : opts.accelerate;
    // Acceleration needs μ_g; checked here because μ may depend on θ.
    if (accelerate && !(mu != null && mu > 0)) fail(`${where}: option 'accelerate' is true but '${problem.name}' has no strongConvexity μ_g > 0; give defineSaddle a 'strongConvexity' or set accelerate: false.`);

    const constants = boundConstantsOf(problem, theta, data, opts.lossLipschitz, opts.lossWeight, accelerate);
    const certifiable = typeof constants !== 'string';
    const estimating = certifiable && opts.certificate === 'estimated';
    const adapt = opts.adaptiveSteps;
    const balance = adapt === 'balance' ? RESIDUAL_BALANCING : undefined;
    const search = adapt === 'search' ? CONTRACTION_SEARCH : undefined;
    const diagonal = diag != null ? { tau: diag.tau, sigma: diag.sigma } : undefined;
    const freeDiagonal = () => tf.dispose([diag?.tau, diag?.sigma].filter((t): t is tf.Tensor => t != null));
    let fwd: ReturnType<typeof pdhg>;
    try {
      fwd = pdhg(problem, theta, data, x0, z0, { tau, sigma, mu: accelerate ? mu! : 0, balance, search, diagonal }, tol, maxIter, certifiable, estimating ? 1 : 0, estimating ? opts.estimateSteps : 0);
    } catch (e) {
      freeDiagonal();
      throw e;
    } finally {
      tf.dispose([x0, z0]);
    }
    // The adjoint is the exact transpose of the step with the steps the last PDHG step used (frozen), the
    // step whose residual the certificate reads; the accelerated forward keeps the initial constant steps.
    // Accelerated and certified: the adjoint linearises the last accelerated step itself (τ_k, σ_k/ω_k, ω_k), the
    // step that produced (x̃, ỹ); uncertified it iterates the initial constant-step map at the solution.
    const lastStep = adapt !== false || (accelerate && certifiable);
    const usedScalars = lastStep ? { tau: fwd.tau, sigma: fwd.sigma } : { tau, sigma };
    const omega = accelerate && certifiable ? fwd.omega : 1;
    const used = { tau: usedScalars.tau as Step, sigma: usedScalars.sigma as Step };
    if (diag != null) {
      // the diagonals scaled by the last step's scalars, owned by aux (disposed in disposeAux)
      used.tau = diag.tau != null ? tf.keep(tf.mul(diag.tau, usedScalars.tau)) : usedScalars.tau;
      used.sigma = diag.sigma != null ? tf.keep(tf.mul(diag.sigma, usedScalars.sigma)) : usedScalars.sigma;
      freeDiagonal();
    }
    if (adapt !== false && opts.warmStart && Number.isFinite(fwd.sigma / fwd.tau)) warm.ratio = Math.fround(fwd.sigma / fwd.tau);
    const status: SolveStatus = fwd.diverged ? 'diverged' : fwd.converged ? 'converged' : 'max-iterations';
    const facts = { where: `PDHG${accelerate ? ' (accelerated)' : ''}`, iterations: fwd.iterations, residual: fwd.residual, residualName: '‖(r_p, r_d)‖', tol, tolMode: 'absolute' as const, maxIter };
    const distance = mu != null && mu > 0 && muDual != null && muDual > 0 && Number.isFinite(fwd.residual)
      ? ` (certified ‖(x, z) − (x̂, ẑ)‖ ≤ ${fmt(fwd.residual / Math.min(mu, muDual))})`
      : '';
    const message = statusMessage(status, {
      ...facts,
      fix: status === 'diverged'
        ? "check 'operatorNorm' (an underestimate breaks τσ‖K‖² < 1), that proxG/proxFStar are prox maps, or lower stepScale"
        : status === 'max-iterations' ? `increase maxIter (now ${maxIter}), loosen tol${accelerate ? '' : ', or give defineSaddle a strongConvexity for acceleration'}` : undefined,
    }).replace(/\.$/, '') + distance + (adapt !== false ? `; ${adapt === 'balance' ? 'residual balancing' : 'contraction search'}: ${fwd.adaptations} step adaptations, σ/τ ${fmt(ratio)} → ${fmt(usedScalars.sigma / usedScalars.tau)}` : '')
      + (pre !== false ? `; ${pre === 'diagonal' ? 'diagonal' : `${pre}-side diagonal`} preconditioning (Pock & Chambolle 2011, α = ${opts.preconditionAlpha})` : '');
    const aux: SaddleAux = { z: fwd.z, tau: used.tau, sigma: used.sigma, omega, warm: useWarm, last: fwd.last, constants, normGiven, steps: fwd.steps, adaptations: fwd.adaptations };
    return {
      x: fwd.x, residual: fwd.residual, converged: fwd.converged, status, message, iterations: fwd.iterations, work: addWork(work, fwd.work), tol, aux,
      // Nobody took the dual (a plain solve): it becomes the warm start, keeping the old λ.
      disposeAux: () => {
        if (aux.last != null) tf.dispose(Object.values(aux.last));
        aux.last = undefined;
        for (const t of [aux.tau, aux.sigma]) if (typeof t !== 'number') t.dispose();
        if (!aux.taken) warm.remember(fwd.x, fwd.z);
      },
    };
  }
  return {
    name: 'pdhg',
    kinds: ['saddle'],
    run,
    solve: ({ problem, theta, data, x0, tol, maxIter }) => run(problem as SaddleProblem<typeof data>, theta, data, x0, tol!, maxIter!, false),
  };
}

import { tf, addWork, withIsolatedTape, statusMessage, valueAndGradParams, keysOf, formatNumber as fmt } from '@bilevel/core';
import type { DifferentiationRule, ForwardOutcome, Params, RuleValueOutcome, SaddleProblem, SolveStatus } from '@bilevel/core';
import { piggybackAdjoint } from './internal/adjoint.js';
import { certifySaddle } from './internal/certify.js';
import { extrapolatedEstimate } from './internal/extrapolate.js';
import { saddleHypergradientBound } from './bound.js';
import { contractionEstimate, estimatedSaddleBound, stepFloor } from './estimate.js';
import type { PdhgForward, SaddleAux } from './forward.js';
import type { SaddleWarmStart } from './internal/warm.js';

/**
 * The piggyback rule (Griewank–Faure reverse mode of one PDHG step; Bogensperger, Ehrhardt,
 * Pock, Salehi & Wong, Algorithm 1): at the saddle point u = (x, z) iterate the adjoint
 * `λ ← (∂_u T)ᵀλ + (v, 0)` to `linearTol` and return `(∂_θ T)ᵀλ`. It needs the dual z and the
 * PDHG steps; inside `argmin`'s backward pass only x is known, so PDHG is re-run from x with the
 * kept dual (about one iteration when x is that solution) and its work is counted.
 *
 * @param forward - the PDHG forward solve.
 * @param warm - the strategy's warm-start state (shared with the forward).
 * @param opts - forward accuracy for the re-solve, and whether to keep λ.
 * @returns a core `DifferentiationRule` for saddle problems.
 */
export function piggybackRule(forward: PdhgForward, warm: SaddleWarmStart, opts: { tol: number; maxIter: number; warmStart: boolean; certificate: 'certified' | 'estimated'; estimateSteps: number }): DifferentiationRule<SaddleAux> {
  const where = 'piggyback';
  return {
    name: 'piggyback adjoint',
    // The saddle point (x, z) and adjoint (a, b) PDHG and the adjoint restart from.
    warmState: () => warm.export(),
    loadWarmState: (state) => warm.import(state),
    // A value-only request (a line-search trial): the `valueBound` the hypergradient would report,
    // from PDHG's last step alone: ψ of Bogensperger et al. (2024), Lemma 5, (26), reads ℓ and
    // ‖∇ℓ‖ε + Lε²/2 at the trial point, i.e. the forward accuracy only; no adjoint solve.
    valueBound(request) {
      const aux = request.forward.aux;
      if (aux == null || typeof aux.constants === 'string' || aux.last == null) return { note: typeof aux?.constants === 'string' ? aux.constants : undefined };
      return withIsolatedTape(() => forwardValueBound(request.problem as SaddleProblem<typeof request.data>, request.theta, request.data, request.forward.x, aux, request.cotangent));
    },
    vjp(request) {
      const problem = request.problem as SaddleProblem<typeof request.data>;
      const { theta, data, cotangent, purpose } = request;
      const linearTol = request.linearTol!;
      const linearMaxIter = request.linearMaxIter!;
      if (request.wrtData) {
        throw new Error(`${where}: argmin's 'differentiateData' is not supported for saddle-point problems; differentiate with respect to θ (put the input in θ if you need its gradient).`);
      }
      return withIsolatedTape(() => {
        // The driver's forward outcome (hypergradient), or undefined inside argmin's backward pass.
        const given: ForwardOutcome<SaddleAux> | undefined = request.forward.aux != null ? request.forward : undefined;
        const fwd = given ?? forward.run(problem, theta, data, request.forward.x, opts.tol, opts.maxIter, true);
        const aux = fwd.aux!;
        aux.taken = true;
        const start = given == null || aux.warm ? warm.adjoint(aux.z) : undefined;
        // Certified mode (Theorem 2): linearise at the step that produced (x̃, ỹ), so the adjoint
        // saddle problem is exactly (ASI) at (x̃, ỹ), and return z of (15).
        const last = given != null && purpose === 'hypergradient' && typeof aux.constants !== 'string' ? aux.last : undefined;
        const adj = last != null
          ? piggybackAdjoint(problem, theta, data, cotangent, last.xPrev, last.zPrev, aux.tau, aux.sigma, start?.a, start?.b, linearTol, linearMaxIter, true, 1, aux.steps != null ? opts.estimateSteps : 0, aux.omega)
          : piggybackAdjoint(problem, theta, data, cotangent, fwd.x, aux.z, aux.tau, aux.sigma, start?.a, start?.b, linearTol, linearMaxIter);
        let bound: number | undefined;
        let valueBound: number | undefined;
        let boundNote = typeof aux.constants === 'string' ? aux.constants : '';
        if (last != null && adj.last != null && typeof aux.constants !== 'string') {
          const al = adj.last;
          const zx = fwd.x;
          const zy = aux.z;
          const { value, grad: g } = valueAndGradParams((th: Params) => tf.add(
            tf.sum(tf.mul(problem.apply(al.X, th, data), zy)), tf.sum(tf.mul(problem.apply(zx, th, data), al.Y))), theta);
          value.dispose();
          for (const k of keysOf(g)) adj.grad[k] = tf.keep(g[k]);
          const weights = problem.strongConvexityWeights != null && problem.dualStrongConvexityWeights != null
            // in a tidy: a weights function may build its tensor from intermediates
            ? [tf.tidy(() => problem.strongConvexityWeights!(theta, data)), tf.tidy(() => problem.dualStrongConvexityWeights!(theta, data))] : [undefined, undefined];
          const c = aux.constants;
          const [cert] = certifySaddle({ x: zx, z: zy, rp: last.rp, rd: last.rd, X: al.X, Y: al.Y, ra: al.ra, rb: al.rb, lossGrad: cotangent, weightsX: weights[0], weightsY: weights[1] }, c);
          tf.dispose(weights.filter((w): w is tf.Tensor => w != null));
          const estimating = aux.steps != null && adj.steps != null;
          const e = estimating ? extrapolatedEstimate(problem, theta, data, {
            x: zx, z: zy, xPrev: last.xPrev, zPrev: last.zPrev, X: al.X, Y: al.Y, dX: al.dX, dY: al.dY, forwardSteps: aux.steps!, adjointSteps: adj.steps!,
            lossGrad: cotangent,
          }, c) : undefined;
          tf.dispose(Object.values(al));
          bound = cert.bound;
          valueBound = cert.valueBound;
          boundNote = `certified ‖z − ∇F‖ ≤ ${fmt(cert.bound)} (ε = ${fmt(cert.eps)}, δ = ${fmt(cert.delta)}; Theorem 2 of Bogensperger et al., joint form)`;
          if (estimating && e == null) boundNote += '; no estimate (no contraction rate < 1 measured over the last steps above the float32 round-off floor): bound is the certified one, and at that floor no residual-based bound is trustworthy';
          if (e != null) {
            // the estimate never exceeds the certificate, which holds regardless
            bound = Math.min(cert.bound, e.bound);
            valueBound = Math.min(cert.valueBound, e.valueBound);
            const floorNote = e.forward.atFloor || e.adjoint.atFloor ? ` (${[e.forward.atFloor ? 'PDHG' : '', e.adjoint.atFloor ? 'adjoint' : ''].filter((w) => w !== '').join(' and ')} at the float32 round-off floor: rate from the steps before it, error from the floor; tightening the tolerance further cannot improve this hypergradient)` : '';
            boundNote = `estimated (not certified) ‖z − ∇F‖ ≈ ${fmt(bound)} from the observed contraction (PDHG ρ̂ = ${fmt(e.forward.rate)}, ε̂ = ${fmt(e.forward.error)}; adjoint ρ̂ = ${fmt(e.adjoint.rate)}, δ̂ = ${fmt(e.adjoint.error)})${floorNote}; ${boundNote}`;
          }
          adj.work = addWork(adj.work, { vjps: e != null ? 4 : 2, jvps: e != null ? 4 : 2 });
        }
        if (opts.warmStart || given == null) warm.remember(fwd.x, aux.z, adj.a, adj.b);
        else tf.dispose([aux.z, adj.a, adj.b]);
        if (given == null) {
          fwd.x.dispose();
          // the re-solve's own aux (its frozen steps, and its last step if kept): the driver never sees it
          fwd.disposeAux?.();
        }
        const status: SolveStatus = adj.diverged ? 'diverged' : adj.converged ? 'converged' : 'max-iterations';
        const facts = { where: 'piggyback adjoint', iterations: adj.iterations, residual: adj.residual, residualName: '‖λ_{k+1} − λ_k‖', tol: linearTol, tolMode: 'absolute' as const, maxIter: linearMaxIter, optionNames: { tol: 'linearTol', maxIter: 'linearMaxIter' } };
        let message = statusMessage(status, {
          ...facts,
          fix: status === 'diverged' ? 'the linearised PDHG step is not contractive at this point (is the forward solution accurate? is the saddle point unique?)' : undefined,
        });
        if (given == null && !fwd.converged) message = `the saddle point could not be re-established from x (${fwd.message}); ${message}`;
        if (purpose === 'hypergradient' && boundNote !== '') message += ` ${boundNote.charAt(0).toUpperCase()}${boundNote.slice(1)}.`;
        return {
          grad: adj.grad,
          residual: adj.residual,
          converged: adj.converged && (given != null || fwd.converged),
          status,
          iterations: adj.iterations,
          tol: linearTol,
          message,
          bound,
          valueBound,
          work: given == null ? addWork(fwd.work, adj.work) : adj.work,
        };
      });
    },
  };
}

/**
 * The piggyback `valueBound` from the forward alone: certified ‖∇ℓ₁(x̃)‖_{W⁻¹}ε + Lε²/2 with
 * ε = ‖(r_p, r_d)‖_{W⁻¹} (`saddleHypergradientBound`, whose value bound reads only these two), and
 * with `certificate: 'estimated'` the smaller of it and the estimate of `estimatedSaddleBound`
 * along PDHG's extrapolated last step (which reads only the forward error), as the rule's `vjp` reports.
 */
function forwardValueBound<D>(problem: SaddleProblem<D>, theta: Params, data: D, x: tf.Tensor, aux: SaddleAux, lossGrad: tf.Tensor): RuleValueOutcome {
  const c = aux.constants as Exclude<SaddleAux['constants'], string>;
  const last = aux.last!;
  const uNorm = aux.steps != null ? readNorm(x, aux.z) : 0;
  const forward = aux.steps != null ? contractionEstimate(aux.steps.map((r) => r[0]), 10, stepFloor(uNorm)) : undefined;
  const norms = tf.tidy(() => {
    const wX = problem.strongConvexityWeights != null && problem.dualStrongConvexityWeights != null ? problem.strongConvexityWeights(theta, data) : undefined;
    const wY = wX != null ? problem.dualStrongConvexityWeights!(theta, data) : undefined;
    const wsq = (a: tf.Tensor, w: tf.Tensor | undefined) => (w != null ? tf.sum(tf.div(tf.square(a), w)) : tf.div(tf.sum(tf.square(a)), c.weightFloor));
    const out = [tf.sqrt(tf.add(wsq(last.rp, wX), wsq(last.rd, wY))), tf.sqrt(wsq(lossGrad, wX))];
    if (forward != null) {
      const dx = tf.mul(tf.sub(x, last.xPrev), 1 / (1 - forward.rate));
      const dy = tf.mul(tf.sub(aux.z, last.zPrev), 1 / (1 - forward.rate));
      out.push(tf.norm(dx), tf.norm(dy), tf.abs(tf.sum(tf.mul(lossGrad, dx))));
    }
    return tf.stack(out);
  });
  const v = norms.dataSync();
  norms.dispose();
  const none = { adjointResidual: 0, pointNorm: 0, adjointPrimalNorm: 0, adjointDualNorm: 0 };
  const cert = saddleHypergradientBound(c, { forwardResidual: v[0], lossGradNorm: v[1], ...none });
  if (forward == null) return { valueBound: cert.valueBound, note: `certified |ℓ(x̃) − ℓ(x̂)| ≤ ${fmt(cert.valueBound)} (ε = ${fmt(cert.eps)}; value-only: no adjoint solve)` };
  const lossWeight = c.lossWeight ?? c.weightFloor;
  const e = estimatedSaddleBound(
    { weightFloor: c.weightFloor, lossWeight, hessianLipschitz: c.hessianLipschitz, dualHessianLipschitz: c.dualHessianLipschitz, lossLipschitz: c.lossLipschitz * lossWeight, operatorDerivativeNorm: c.operatorDerivativeNorm },
    { correctionNorm: 0, adjointGain: 0, primalError: v[2], dualError: v[3], adjointPrimalNorm: 0, adjointDualNorm: 0, lossGradInner: v[4] },
  );
  const valueBound = Math.min(cert.valueBound, e.valueBound);
  return { valueBound, note: `estimated (not certified) |ℓ(x̃) − ℓ(x̂)| ≈ ${fmt(valueBound)} (PDHG ρ̂ = ${fmt(forward.rate)}; certified ${fmt(cert.valueBound)}; value-only: no adjoint solve)` };
}

/** ‖(a, b)‖ as a number. */
function readNorm(a: tf.Tensor, b: tf.Tensor): number {
  const n = tf.tidy(() => tf.sqrt(tf.add(tf.sum(tf.square(a)), tf.sum(tf.square(b)))));
  const v = n.dataSync()[0];
  n.dispose();
  return v;
}

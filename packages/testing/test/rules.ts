// The differentiation rules of the strategy × problem matrix. A new rule is one entry here:
// its name, the problem kinds it accepts, how it is built for a zoo problem, and the error it
// is allowed against the float64 reference (with the reason).
import { cg, gmres, lbfgs, type Strategy } from '@bilevel/core';
import type { ProblemKind, ZooProblem } from '@bilevel/testing';
import { implicit } from '@bilevel/implicit';
import { unrolled } from '@bilevel/unrolled';
import { equilibrium, picard, anderson, broyden, neumannSeries } from '@bilevel/equilibrium';
import { jacobianFree } from '@bilevel/jfb';
import { piggyback } from '@bilevel/piggyback';

/** Forward and backward tolerances of every exact rule (absolute residuals). */
export const TOL = 1e-6;

/**
 * Truncated rules (truncated unrolling, k-step Jacobian-free, phantom) keep K terms of the
 * Neumann series of (I − ∂ₓT)⁻¹; the dropped tail is ≤ κρᴷ of the gradient. K is the smallest
 * with κρᴷ ≤ 1e-4, so the truncation stays 10× inside the 1e-3 tolerance.
 */
export function truncationSteps(rho: number, kappa: number): number {
  return Math.ceil(Math.log(1e-4 / kappa) / Math.log(rho));
}

export interface Rule {
  name: string;
  accepts: readonly ProblemKind[];
  make(problem: ZooProblem): Strategy;
}

const energyOrMap = ['energy', 'fixed-point'] as const;

export const RULES: readonly Rule[] = [
  { name: 'implicit(lbfgs, cg)', accepts: ['energy'], make: () => implicit({ inner: lbfgs(), linear: cg(), tol: TOL, linearTol: TOL }) },
  { name: 'implicit(lbfgs, gmres)', accepts: ['energy'], make: () => implicit({ inner: lbfgs(), linear: gmres(), tol: TOL, linearTol: TOL }) },
  { name: 'unrolled reverse', accepts: energyOrMap, make: (p) => unrolled({ steps: truncationSteps(p.rho, p.kappa) * 2, stepSize: p.step }) },
  { name: 'unrolled checkpointed', accepts: energyOrMap, make: (p) => unrolled({ steps: truncationSteps(p.rho, p.kappa) * 2, stepSize: p.step, memory: { checkpoint: 'sqrt' } }) },
  { name: 'unrolled truncated', accepts: energyOrMap, make: (p) => unrolled({ steps: truncationSteps(p.rho, p.kappa) * 3, truncate: truncationSteps(p.rho, p.kappa), stepSize: p.step }) },
  { name: 'unrolled forward', accepts: energyOrMap, make: (p) => unrolled({ steps: truncationSteps(p.rho, p.kappa) * 2, stepSize: p.step, mode: 'forward' }) },
  ...(['picard', 'anderson', 'broyden'] as const).flatMap((forward) =>
    (['implicit', 'fixed-point'] as const).map((backward): Rule => ({
      name: `equilibrium(${forward}, ${backward})`,
      accepts: energyOrMap,
      make: (p) => equilibrium({ forward: { picard, anderson, broyden }[forward](), backward, stepSize: p.step, tol: TOL, linearTol: TOL, maxIter: 5000, linearMaxIter: 5000 }),
    })),
  ),
  {
    name: 'equilibrium phantom',
    accepts: energyOrMap,
    // Damping ½ halves the contraction gap: ρ_½ = (1 + ρ)/2, so K is taken for ρ_½.
    make: (p) => equilibrium({ backward: { phantom: truncationSteps((1 + p.rho) / 2, p.kappa), damping: 0.5 }, stepSize: p.step, tol: TOL, maxIter: 5000 }),
  },
  {
    name: 'equilibrium neumannSeries',
    accepts: energyOrMap,
    make: (p) => equilibrium({ backward: neumannSeries({ terms: truncationSteps(p.rho, p.kappa) }), stepSize: p.step, tol: TOL, maxIter: 5000 }),
  },
  { name: 'jacobianFree (k steps)', accepts: energyOrMap, make: (p) => jacobianFree({ steps: truncationSteps(p.rho, p.kappa), stepSize: p.step, tol: TOL, maxIter: 5000 }) },
  { name: 'piggyback', accepts: ['saddle'], make: () => piggyback({ tol: TOL, linearTol: TOL, maxIter: 20000, linearMaxIter: 20000 }) },
];

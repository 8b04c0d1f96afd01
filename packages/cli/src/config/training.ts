/**
 * Config schema, part 3: how θ is learned — the strategy (how the hypergradient is
 * computed), the upper-level method and the budget.
 *
 * @packageDocumentation
 */
import { z } from 'zod';

/** Implicit differentiation (IFT): inner solve, then an adjoint linear solve. */
export const implicitStrategy = z.strictObject({
  kind: z.literal('implicit'),
  inner: z.enum(['lbfgs', 'gradient-descent', 'accelerated']).default('lbfgs').describe('inner (lower-level) solver'),
  maxIter: z.int().min(1).default(2000).describe('inner iteration cap'),
  linear: z.enum(['cg', 'gmres']).default('cg').describe('linear solver of the adjoint system'),
  linearMaxIter: z.int().min(1).default(500).describe('adjoint iteration cap'),
  warmStart: z.boolean().default(true).describe("start each adjoint solve from the previous one's solution (kept in the checkpoint)"),
}).describe('implicit differentiation (@bilevel/implicit)');

/** Reverse-mode through T gradient steps. */
export const unrolledStrategy = z.strictObject({
  kind: z.literal('unrolled'),
  steps: z.int().min(1).max(10000).default(100).describe('unrolled solver steps T'),
  method: z.enum(['gd', 'heavy-ball', 'nesterov']).default('gd').describe('the unrolled iteration'),
}).describe('unrolled differentiation (@bilevel/unrolled)');

/** A fixed-point solve of x = x − s∇Φ(x), differentiated implicitly. */
export const equilibriumStrategy = z.strictObject({
  kind: z.literal('equilibrium'),
  forward: z.enum(['anderson', 'picard', 'broyden']).default('anderson').describe('fixed-point solver'),
  maxIter: z.int().min(1).default(500).describe('forward iteration cap'),
  backward: z.enum(['implicit', 'fixed-point']).default('implicit').describe('backward rule'),
}).describe('equilibrium (@bilevel/equilibrium)');

/** One differentiable step from the fixed point (Fung et al.). */
export const jfbStrategy = z.strictObject({
  kind: z.literal('jfb'),
  steps: z.int().min(1).default(1).describe('differentiable steps from the fixed point'),
}).describe('Jacobian-free backpropagation (@bilevel/jfb)');

/** Every strategy. */
export const STRATEGY_SCHEMAS = [implicitStrategy, unrolledStrategy, equilibriumStrategy, jfbStrategy] as const;

/** The `strategy` field. */
export const strategySchema = z.discriminatedUnion('kind', STRATEGY_SCHEMAS).describe('how the hypergradient is computed');

/** MAID: adaptive inexact descent with certified bounds and backtracking. */
export const maidMethod = z.strictObject({
  kind: z.literal('maid'),
  tol0: z.number().positive().default(0.1).describe('initial inner accuracy ε₀'),
  step0: z.number().positive().default(1).describe('initial step α₀'),
  safety: z.number().min(1).default(2).describe('factor on the heuristic bound constants (filter models and ICNN)'),
}).describe('MAID (@bilevel/outer)');

/** HOAG: fixed geometric accuracy schedule, fixed step. */
export const hoagMethod = z.strictObject({
  kind: z.literal('hoag'),
  tol0: z.number().positive().default(0.1).describe('initial inner accuracy ε₀'),
  ratio: z.number().gt(0).lt(1).default(0.9).describe('geometric decrease of the accuracy per iteration'),
  step: z.number().positive().default(0.1).describe('fixed step α'),
}).describe('HOAG (@bilevel/outer)');

/** Adam on the full training set (or minibatches). */
export const adamMethod = z.strictObject({
  kind: z.literal('adam'),
  step: z.number().positive().default(0.02).describe('step α'),
  tol: z.number().positive().default(1e-3).describe('inner accuracy ε'),
  batchSize: z.int().min(1).optional().describe('minibatch size (default: every training crop)'),
  filterStep: z.number().positive().default(0.1).describe('step multiplier of the filters (filter models)'),
  seed: z.int().min(0).default(0).describe('seed of the minibatch order'),
}).describe('Adam (@bilevel/outer)');

/** Plain (inexact) gradient descent / SGD. */
export const sgdMethod = z.strictObject({
  kind: z.literal('sgd'),
  step: z.number().positive().default(0.1).describe('step α'),
  tol: z.number().positive().default(1e-3).describe('inner accuracy ε'),
  batchSize: z.int().min(1).optional().describe('minibatch size (default: every training crop)'),
  seed: z.int().min(0).default(0).describe('seed of the minibatch order'),
}).describe('SGD (@bilevel/outer)');

/** Dynamic-accuracy derivative-free trust region (value-only calls). */
export const dfoMethod = z.strictObject({
  kind: z.literal('dfo'),
  radius0: z.number().positive().default(0.5).describe('initial trust-region radius Δ₀'),
  tol0: z.number().positive().default(0.1).describe('initial inner accuracy ε₀'),
}).describe('derivative-free trust region with dynamic accuracy (@bilevel/outer)');

/** Every upper-level method. */
export const METHOD_SCHEMAS = [maidMethod, hoagMethod, adamMethod, sgdMethod, dfoMethod] as const;

/** The `method` field. */
export const methodSchema = z.discriminatedUnion('kind', METHOD_SCHEMAS).describe('the upper-level method');

/** The `budget` field: the first limit reached stops the run. */
export const budgetSchema = z.strictObject({
  iterations: z.int().min(1).optional().describe('upper-level iterations'),
  work: z.number().positive().optional().describe('computational work (inner + linear iterations)'),
  seconds: z.number().positive().optional().describe('wall-clock seconds (cumulative across resumes)'),
}).refine((b) => b.iterations != null || b.work != null || b.seconds != null, { error: 'give at least one of iterations, work, seconds' })
  .describe('when to stop: the first limit reached');

/** A validated strategy. */
export type StrategyConfig = z.output<typeof strategySchema>;
/** A validated method. */
export type MethodConfig = z.output<typeof methodSchema>;
/** A validated budget. */
export type BudgetConfig = z.output<typeof budgetSchema>;

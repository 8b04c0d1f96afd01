/**
 * `@bilevel/core`: the tensor layer, autodiff primitives, problem definitions, and the
 * inner and linear solvers every hypergradient strategy shares.
 *
 * @packageDocumentation
 */
export { tf } from './tf.js';
export type { Tensor, Scalar } from './tf.js';
export { initBackend } from './backend.js';
export type { BackendName, BackendOptions } from './backend.js';
export * from './params.js';
export { valueAndGrad, grad, valueAndGradParams, vjp, hvp, mixedProduct, jvp, withIsolatedTape } from './autodiff.js';
export { defineProblem, defineFixedPoint } from './problem.js';
export type { Data, Constant, Problem, ProblemSpec, FixedPointProblem, FixedPointSpec } from './problem.js';
export { emptyWork, addWork, workUnits } from './work.js';
export type { Work } from './work.js';
export { checkNonNegative, checkPositiveInt, checkFinite, checkShape, readScalar } from './validate.js';
export type { InnerSolver, InnerResult, InnerSolveOptions, InnerStatus } from './inner/types.js';
export type { LinearSolver, LinearResult, LinearSolveOptions, LinearStatus, MatVec } from './linear/types.js';
export type { Loss, Accuracy, HypergradientRequest, HypergradientResult, HypergradientStatus, Strategy } from './strategy.js';
export type { SolveRequest, SolveResult, SolutionVjpRequest, SolutionVjpResult } from './strategy.js';
export { hypergradient, DEFAULT_HYPERGRADIENT_OPTIONS } from './hypergradient.js';
export type { HypergradientOptions } from './hypergradient.js';
export { resetConvergenceWarnings, DEFAULT_ON_NOT_CONVERGED } from './gate.js';
export type { OnNotConverged } from './gate.js';

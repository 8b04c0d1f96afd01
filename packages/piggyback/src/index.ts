/**
 * `@bilevel/piggyback`: hypergradients of saddle-point lower levels (`defineSaddle`) by PDHG
 * and the piggyback adjoint iteration (Griewank–Faure; Bogensperger et al.), including
 * parameters inside the linear operator K (learned discretisations).
 *
 * @packageDocumentation
 */
export { piggyback, DEFAULT_PIGGYBACK_OPTIONS } from './piggyback.js';
export type { PiggybackOptions, PiggybackStrategy } from './piggyback.js';
export { saddleHypergradientBound, theorem2Bound } from './bound.js';
export type { SaddleBoundConstants, SaddleBoundInputs, SaddleBound, Theorem2Constants, Theorem2Inputs } from './bound.js';
export { contractionEstimate, estimatedSaddleBound, stepFloor } from './estimate.js';
export type { ContractionEstimate, EstimatedBoundConstants, EstimatedBoundInputs } from './estimate.js';

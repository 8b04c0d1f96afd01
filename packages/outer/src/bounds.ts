/**
 * A-posteriori error bounds for inexact implicit hypergradients: re-exported from
 * `@bilevel/implicit` (packages/implicit/src/bound.ts), where the one implementation and its
 * derivation live. The names below are the ones `@bilevel/outer` has always exported.
 *
 * @packageDocumentation
 */
export { hypergradientBound, adjointErrorBound, valueBound, distanceBound } from '@bilevel/implicit';
export type { HypergradientBoundConstants as BoundConstants, HypergradientBoundInputs as BoundInputs } from '@bilevel/implicit';

/**
 * `@bilevel/unrolled`: hypergradients by differentiating through T solver steps
 * (reverse mode with a full tape, √T checkpointing or truncation; forward mode).
 *
 * @packageDocumentation
 */
export { unrolled, DEFAULT_UNROLLED_OPTIONS } from './unrolled.js';
export type { UnrolledOptions, UnrolledStrategy, UnrolledMemory, StepSize, Method } from './unrolled.js';

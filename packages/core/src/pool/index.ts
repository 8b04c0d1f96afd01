// The pool contract, the per-sample runner, the fixed-order reduction and the in-process engine.
export type { PlainTensor, SampleWarm, PlainParams, PoolPolicy, PoolRequest, SampleOutcome, SamplePool } from './types.js';
export { isSamplePool } from './types.js';
export { definePoolTask, taskFromModule } from './task.js';
export type { PoolTask, PoolTaskSpec } from './task.js';
export { sampleRunner, paramsFromPlain, paramsToPlain } from './runner.js';
export type { SampleRunner, SampleJob, WarmAccess } from './runner.js';
export { reduceSamples, pooledHypergradient } from './reduce.js';
export type { PooledResult, PooledHypergradientOptions } from './reduce.js';
export { inlinePool } from './inline.js';
export { warmStateToJson, warmStateFromJson, packWarm, unpackWarm, sameLayout } from './warm-state.js';
export type { PackedWarm } from './warm-state.js';

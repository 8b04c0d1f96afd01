/**
 * `@bilevel/outer`: upper-level methods on inexact hypergradient oracles — certified error
 * bounds, MAID, HOAG, inexact SGD/Adam, dynamic-accuracy derivative-free trust region (DFO), parameter transforms, and a checkpointing
 * training loop.
 *
 * @packageDocumentation
 */
export type {
  ParamsArrays,
  OracleAccuracy,
  OracleCallOptions,
  OracleResult,
  Oracle,
  Proximal,
  StepContext,
  StopReason,
  StepInfo,
  MethodStateBase,
  Method,
} from './types.js';
export { hypergradientBound, adjointErrorBound, valueBound, distanceBound } from './bounds.js';
export type { BoundConstants, BoundInputs } from './bounds.js';
export { estimateBoundConstants, ESTIMATE_CONSTANTS_DEFAULTS } from './estimate-constants.js';
export type { EstimateConstantsOptions, EstimatedConstants } from './estimate-constants.js';
export { constant, geometric, quadratic, cubic } from './schedules.js';
export type { Schedule } from './schedules.js';
export { maid, MAID_DEFAULTS } from './maid.js';
export type { MaidOptions, MaidState } from './maid.js';
export { hoag, HOAG_DEFAULTS } from './hoag.js';
export { dfo, DFO_DEFAULTS } from './dfo.js';
export type { DfoOptions, DfoState } from './dfo.js';
export type { HoagOptions, HoagState } from './hoag.js';
export { sgd, adam, SGD_DEFAULTS, ADAM_DEFAULTS } from './stochastic.js';
export type { StochasticOptions, AdamOptions, SgdState, AdamState } from './stochastic.js';
export { expParameterisation, reparameterise, l1, l2, box, projection, composeProximal, proximalOf, withRegularizer } from './transforms.js';
export type { Reparameterisation, Regularizer, BoxBounds } from './transforms.js';
export { oracleFromStrategy } from './oracle.js';
export type { StrategyOracleOptions, OracleConstants } from './oracle.js';
export { train, trainSteps } from './train.js';
export type { Budget, ProgressEvent, TrainOptions, TrainResult, StopSignal } from './train.js';
// (checkpoint files: fileStore, fileCheckpoint, readCheckpoint, writeFileAtomic in '@bilevel/outer/node')
export { memoryStore, loadCheckpoint, DEFAULT_CHECKPOINT_KEY } from './checkpoint.js';
export type { CheckpointStore, CheckpointOptions, Checkpoint } from './checkpoint.js';
export type { ResumeOptions } from './internal/train/resume.js';
export type { FingerprintPart } from './internal/checkpoint/fingerprint.js';
export { mulberry32, permutation } from './internal/rng.js';
export type { Rng } from './internal/rng.js';
export { serveTraining } from './worker/serve.js';
export type { TrainingSetup, TrainingBuilder } from './worker/serve.js';
export { startTraining } from './worker/start.js';
export type { StartTrainingOptions, TrainingRun } from './worker/start.js';
export type { MessagePortLike, TrainingProgress, TrainingOutcome } from './worker/protocol.js';

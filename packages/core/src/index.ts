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
export { defineProblem, defineFixedPoint, defineSaddle } from './problem.js';
export { VERIFY_DEFAULTS } from './derivatives.js';
export type { Derivatives, HessianAt, VerifyOptions, SuppliedDerivatives } from './derivatives.js';
export type { Data, Constant, Problem, ProblemSpec, FixedPointProblem, FixedPointSpec, SaddleProblem, SaddleSpec } from './problem.js';
export { STATUS, statusMessage, statusEntry, isOk, formatNumber } from './status.js';
export type { StatusCode, StatusEntry, StatusFacts } from './status.js';
export { iterate, disposeReplaced } from './iterate/loop.js';
export type { IterativeMethod, IterateOptions, IterateOutcome, IterationInfo, Step, StepInfo, Stop } from './iterate/types.js';
export { emptyWork, addWork, workUnits } from './work.js';
export type { Work } from './work.js';
export { checkNonNegative, checkPositiveInt, checkFinite, checkShape, readScalar } from './validate.js';
export { normNumber, dotFloat32 } from './norm.js';
export { requireBackend, checkTheta, checkData, checkStart, checkScalarOutput, callUser, withAllocationHint } from './inputs.js';
export type { InnerSolver, InnerResult, InnerSolveOptions, InnerStatus } from './inner/types.js';
export type { LinearSolver, LinearResult, LinearSolveOptions, LinearStatus, MatVec } from './linear/types.js';
export type { Loss, Accuracy, HypergradientRequest, HypergradientResult, HypergradientStatus, Strategy } from './strategy.js';
export type { SolveRequest, SolveResult, SolutionVjpRequest, SolutionVjpResult, ValueResult } from './strategy.js';
export { hypergradient, DEFAULT_HYPERGRADIENT_OPTIONS } from './hypergradient.js';
export type { HypergradientOptions } from './hypergradient.js';
export {
  resetConvergenceWarnings, convergenceReport, convergencePolicy, DEFAULT_ON_NOT_CONVERGED, TIGHTEN_DEFAULTS,
  isUnconverged, notConvergedMessage, checkOnNotConverged,
} from './driver/policy.js';
export type { OnNotConverged, ConvergencePolicy, ConvergenceCounts, SettleContext, TightenOptions, ConvergencePolicyOptions } from './driver/policy.js';
export { defineStrategy } from './driver/define.js';
export { innerForward, explicitStopping } from './driver/inner-forward.js';
export { fixedPointForward } from './driver/fixed-point-forward.js';
export { hypergradientWithPolicy, valueWithPolicy } from './driver/run.js';
export { checkRequest, guardLoss } from './driver/door.js';
export { splitLoss } from './driver/loss-split.js';
export type { LossSplit } from './driver/loss-split.js';
export { WarmSlot, slotsWarmState, loadSlotsWarmState, checkWarmTensor } from './driver/warm.js';
export type { WarmState, WarmTensor } from './driver/warm.js';
export { fixedPointMapOf, gradientStepSize } from './driver/step-map.js';
export type { FixedPointMap, StepMap } from './driver/step-map.js';
export { finiteParams } from './driver/result.js';
export type {
  ProblemKind, AnyProblem, ForwardRequest, ForwardOutcome, ForwardSolve, SolveStatus, RuleVjpRequest, RuleVjpOutcome, RuleValueRequest, RuleValueOutcome,
  ThroughForwardRequest, ThroughForwardOutcome, DifferentiationRule, StrategyDefaults, ExplicitStopping, StrategyParts, DrivenStrategy,
} from './driver/types.js';
export { gradientDescent, GRADIENT_DESCENT_DEFAULTS, BACKTRACKING_DEFAULTS } from './inner/gradient-descent.js';
export type { GradientDescentOptions, BacktrackingOptions } from './inner/gradient-descent.js';
export { accelerated, ACCELERATED_DEFAULTS } from './inner/accelerated.js';
export type { AcceleratedOptions } from './inner/accelerated.js';
export { lbfgs, LBFGS_DEFAULTS } from './inner/lbfgs.js';
export type { LbfgsOptions } from './inner/lbfgs.js';
export { INNER_DEFAULTS } from './inner/run.js';
export type { InnerBaseOptions } from './inner/run.js';
export { cg, CG_DEFAULTS } from './linear/cg.js';
export type { CgOptions, LinearBaseOptions } from './linear/cg.js';
export { richardson, RICHARDSON_DEFAULTS } from './linear/richardson.js';
export type { RichardsonOptions } from './linear/richardson.js';
export { neumann, NEUMANN_DEFAULTS } from './linear/neumann.js';
export type { NeumannOptions } from './linear/neumann.js';
export { gmres, GMRES_DEFAULTS } from './linear/gmres.js';
export type { GmresOptions } from './linear/gmres.js';
export { picard, PICARD_DEFAULTS } from './fixed-point/picard.js';
export type { PicardOptions } from './fixed-point/picard.js';
export { anderson, ANDERSON_DEFAULTS } from './fixed-point/anderson.js';
export type { AndersonOptions } from './fixed-point/anderson.js';
export { broyden, BROYDEN_DEFAULTS } from './fixed-point/broyden.js';
export type { BroydenOptions } from './fixed-point/broyden.js';
export { FIXED_POINT_DEFAULTS } from './fixed-point/types.js';
export type { FixedPointSolver, FixedPointResult, FixedPointSolveOptions, FixedPointStatus } from './fixed-point/types.js';
export { powerIteration, lanczos, estimateLipschitz, estimateStrongConvexity, POWER_ITERATION_DEFAULTS, LANCZOS_DEFAULTS } from './spectrum.js';
export type { SpectrumEstimate, PowerIterationOptions, LanczosOptions, CurvatureEstimateOptions } from './spectrum.js';
export { luFactor } from './dense.js';
export { checkStrongConvexity, STRONG_CONVEXITY_CHECK_STEPS } from './certify.js';
export type { LuFactorization } from './dense.js';
export { checkGradient, checkParamsGradient, GRADCHECK_DEFAULTS } from './gradcheck.js';
export type { GradCheckOptions, GradCheckResult, GradCheckEntry } from './gradcheck.js';
export { argmin, withoutTape, DEFAULT_ARGMIN_OPTIONS } from './argmin.js';
export type { ArgminOptions, ArgminFunction } from './argmin.js';
export { ArgminLayer, registerArgminProblem } from './argmin-layer.js';
export type { ArgminLayerArgs, ArgminWeightSpec } from './argmin-layer.js';
export { seededNormal, seededUnit, seededUnitParams } from './random.js';
export { wasmHeapModule, base64Bytes } from './kernels/wasm-heap-module.js';
export type { WasmHeapBackend } from './kernels/wasm-heap-module.js';
export { opt, checkOptions, defineOptions, optionsOf, registerOptions, resetOptionWarnings, explicitOptions, recordExplicit, resolveAccuracy } from './options.js';
export type { OptionSpec, OptionSchema, OptionSet, AccuracySources } from './options.js';
export type { Range as OptionRange } from './internal/option-range.js';
export {
  isSamplePool, definePoolTask, taskFromModule, sampleRunner, paramsFromPlain, paramsToPlain, reduceSamples, pooledHypergradient, inlinePool,
  warmStateToJson, warmStateFromJson, packWarm, unpackWarm, sameLayout,
} from './pool/index.js';
export type {
  PlainTensor, SampleWarm, PackedWarm, PlainParams, PoolPolicy, PoolRequest, SampleOutcome, SamplePool, PoolTask, PoolTaskSpec, SampleRunner, SampleJob, WarmAccess,
  PooledResult, PooledHypergradientOptions,
} from './pool/index.js';

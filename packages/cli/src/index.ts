/**
 * `@bilevel/cli`: the `bilevel` command line — `bilevel train <config>` learns a TV / Huber
 * TV / TGV / (Ex) / FoE / ICNN reconstruction model for denoising, deblurring, inpainting, MRI or CT
 * from a JSON or YAML config, `bilevel eval` applies it, `bilevel check` tests a user's
 * problem module — and the terminal plumbing the examples share: flags, progress bars,
 * SVG plots, output files, process error handling.
 *
 * @packageDocumentation
 */
export { runCli } from './cli.js';
export type { RunCliOptions } from './cli.js';
export { UsageError, FailureError, describeError, EXIT_USAGE, EXIT_FAILURE, EXIT_INTERRUPTED } from './errors.js';
export { parseArgv, parseFlags, flagsHelp, suggest } from './flags.js';
export type { FlagSpec, ParsedArgv, FlagValues } from './flags.js';
export { progressReporter } from './progress.js';
export type { ProgressOptions, ProgressReporter } from './progress.js';
export { plotLossVersusWork, plotTraining, renderVegaLite } from './plot.js';
export type { CurvePoint, TrainingPoint } from './plot.js';
export { outputFolder, writeJson, markdownTable, inFolder } from './output.js';
export { filterMosaic } from './filters.js';
export { handleProcessErrors } from './process.js';
export { configSchema, configJsonSchema, imagesSchema, dataSchema, outputSchema } from './config/schema.js';
export type { TrainConfig, TrainConfigInput } from './config/schema.js';
export { taskSchema, TASK_SCHEMAS } from './config/tasks.js';
export type { TaskConfig } from './config/tasks.js';
export { modelSchema, MODEL_SCHEMAS } from './config/models.js';
export type { ModelConfig } from './config/models.js';
export { strategySchema, methodSchema, budgetSchema, STRATEGY_SCHEMAS, METHOD_SCHEMAS } from './config/training.js';
export type { StrategyConfig, MethodConfig, BudgetConfig } from './config/training.js';
export { loadConfig, validateConfig, parseConfigText } from './config/load.js';
export type { LoadedConfig } from './config/load.js';

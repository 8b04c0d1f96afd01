/**
 * `bilevel train <config>`: learn θ of the config's model, with checkpoints (`--resume`
 * continues), a progress bar, and the run's outputs (see `outputs.ts`).
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tf, initBackend, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { train } from '@bilevel/outer';
import type { ProgressEvent, TrainResult, MethodStateBase } from '@bilevel/outer';
import { fileCheckpoint } from '@bilevel/outer/node';
import { UsageError, EXIT_INTERRUPTED } from '../../errors.js';
import { parseArgv, type FlagSpec } from '../../flags.js';
import { loadConfig, defaultOutputDir, configPath, absoluteConfig } from '../../config/load.js';
import type { TrainConfig } from '../../config/schema.js';
import { progressReporter } from '../../progress.js';
import { handleProcessErrors } from '../../process.js';
import { outputFolder, writeJson } from '../../output.js';
import { buildSetup, type Setup } from '../build/setup.js';
import { buildStrategy, buildMethod } from '../build/solvers.js';
import { estimateConstants } from '../build/constants.js';
import { say, withLogsOnStderr, type CliIo } from '../io.js';
import { writeOutputs, type RunSummary } from './outputs.js';
import { openWorkers, type OpenWorkers } from '../workers/engine.js';
import { cropConstants } from '../workers/task.js';

/** Flags of `bilevel train`. */
export const TRAIN_FLAGS: Record<string, FlagSpec> = {
  resume: { type: 'boolean', description: 'continue the run in the output folder from its checkpoint' },
  fresh: { type: 'boolean', description: 'start over, deleting the output folder\'s checkpoint' },
  out: { type: 'string', description: 'output folder (overrides output.dir; relative to the working directory)' },
  iterations: { type: 'number', description: 'override budget.iterations' },
  every: { type: 'number', description: 'without a terminal: one progress line every N iterations', default: 1 },
  json: { type: 'boolean', description: 'print the summary as JSON on stdout (progress and logs go to stderr)' },
  quiet: { type: 'boolean', description: 'no progress output' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
};

/** The checkpoint's file name in the output folder. */
export const CHECKPOINT_FILE = 'checkpoint.json';

/** Fields that must not change between a run and its resumption. */
const FIXED_FIELDS = ['task', 'data', 'model', 'strategy', 'method'] as const;

/** What a checkpoint's warm starts belong to: the whole batch, one crop (inline, threads), or Redis keys. */
const engineOf = (w: TrainConfig['workers']): string => (w == null ? 'the whole batch in this process' : w.kind === 'redis' ? 'redis' : 'crop by crop in this machine (inline or threads)');

function checkResumable(out: string, config: TrainConfig): void {
  const saved = join(out, 'config.json');
  if (!existsSync(saved)) return;
  const before = JSON.parse(readFileSync(saved, 'utf8')) as TrainConfig;
  for (const field of FIXED_FIELDS) {
    if (JSON.stringify(before[field]) !== JSON.stringify(config[field])) {
      throw new UsageError(`bilevel train --resume: '${field}' changed since the run in ${out} started (was ${JSON.stringify(before[field])}); a resumed run needs the same ${FIXED_FIELDS.join(', ')} (only budget, output and the number of workers may change), or pass --fresh.`);
    }
  }
  if (engineOf(before.workers) !== engineOf(config.workers)) {
    throw new UsageError(`bilevel train --resume: 'workers' changed from ${engineOf(before.workers)} to ${engineOf(config.workers)} since the run in ${out} started; the checkpoint's warm starts belong to the first: resume with the same kind of workers, or pass --fresh.`);
  }
}

/** Resolves the output folder and the resume/fresh decision. */
function prepareOutput(file: string, dir: string, config: TrainConfig, values: Record<string, unknown>): { out: string; resume: boolean } {
  const out = values.out != null ? resolve(String(values.out)) : config.output.dir != null ? configPath(dir, config.output.dir) : defaultOutputDir(file);
  const checkpoint = join(out, CHECKPOINT_FILE);
  if (values.resume === true && values.fresh === true) throw new UsageError('bilevel train: --resume and --fresh exclude each other.');
  if (values.resume === true) {
    if (!existsSync(checkpoint)) throw new UsageError(`bilevel train --resume: no checkpoint in ${out} (${CHECKPOINT_FILE}); run without --resume to start.`);
    checkResumable(out, config);
    return { out, resume: true };
  }
  if (existsSync(checkpoint)) {
    if (values.fresh !== true) throw new UsageError(`bilevel train: ${out} already holds a run (${CHECKPOINT_FILE}); pass --resume to continue it or --fresh to start over.`);
    rmSync(checkpoint, { force: true });
  }
  return { out, resume: false };
}

/** `bilevel train` with parsed arguments; returns the exit code. */
export async function trainCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgv(argv, TRAIN_FLAGS, 'bilevel train');
  if (values.help === true) return -1;
  if (positionals.length !== 1) throw new UsageError(`bilevel train: give one config file (bilevel train <config.json|yaml>), got ${positionals.length === 0 ? 'none' : positionals.join(' ')}.`);
  const { config: loaded, file, dir } = loadConfig(positionals[0]);
  let config = absoluteConfig(loaded, dir);
  if (values.iterations != null) {
    const n = values.iterations as number;
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`bilevel train: flag --iterations must be a positive integer, got ${n}.`);
    config = { ...config, budget: { ...config.budget, iterations: n } };
  }
  const every = values.every as number | undefined ?? 1;
  if (!Number.isInteger(every) || every < 1) throw new UsageError(`bilevel train: flag --every must be a positive integer, got ${every}.`);
  const { out, resume } = prepareOutput(file, dir, config, values);
  const json = values.json === true;
  return withLogsOnStderr(json || values.quiet === true, async () => {
    const backend = await initBackend(config.backend != null ? { backend: config.backend } : {});
    if (io.handleSigint === true) handleProcessErrors('bilevel train');
    outputFolder(out);
    writeJson(join(out, 'config.json'), config);
    const setup = buildSetup(config, dir);
    try {
      return await run({ config, setup, out, resume, backend, io, json, quiet: values.quiet === true, every, file, dir });
    } finally {
      setup.dispose();
    }
  });
}

interface RunContext {
  config: TrainConfig;
  setup: Setup;
  out: string;
  resume: boolean;
  backend: string;
  io: CliIo;
  json: boolean;
  quiet: boolean;
  every: number;
  file: string;
  dir: string;
}

async function run(c: RunContext): Promise<number> {
  const { config, setup, io } = c;
  const log = c.json ? io.stderr : io.stdout;
  const n = config.data.count;
  const theta0 = setup.model.built.theta;
  const needsConstants = config.method.kind === 'maid' || config.method.kind === 'dfo';
  const safety = config.method.kind === 'maid' ? config.method.safety : 2;
  // With workers each crop certifies its own hypergradient: constants measured crop by crop.
  const crop = needsConstants && config.workers != null ? cropConstants(setup, config) : undefined;
  const constants = !needsConstants ? undefined : crop != null ? { mu: setup.problem.mu(theta0, setup.train)!, ...crop } : estimateConstants(setup.problem, theta0, setup.train, safety, config.data.seed);
  const strategy = config.workers == null ? buildStrategy(config.strategy) : undefined;
  const method = buildMethod(config.method, n, setup.model.filterKey);
  const total = config.budget.iterations ?? 0;
  const stream = (c.json ? io.stderr : io.stdout) as NodeJS.WriteStream;
  const workers: OpenWorkers | undefined = config.workers != null ? await openWorkers(config, c.dir, c.file, crop) : undefined;
  if (!c.quiet) say(log, `bilevel train: ${config.model.kind} on ${config.task.kind}, ${n} crops ${config.data.crop}×${config.data.crop}, ${config.strategy.kind} + ${config.method.kind}, backend ${c.backend}${workers != null ? `, workers ${workers.label}` : ''}${c.resume ? ', resuming' : ''} → ${c.out}`);
  const progress = progressReporter(total, config.method.kind.toUpperCase(), { every: c.every, stream, quiet: c.quiet, tty: stream.isTTY === true && total > 0 });
  const controller = new AbortController();
  let firstInterrupt = 0;
  const onSigint = () => {
    // The same Ctrl-C can arrive twice (from the terminal and forwarded by bin/bilevel.mjs).
    if (firstInterrupt > 0 && Date.now() - firstInterrupt > 500) process.exit(EXIT_INTERRUPTED);
    if (firstInterrupt > 0) return;
    firstInterrupt = Date.now();
    say(io.stderr, '\nbilevel train: stopping after this iteration (Ctrl-C again to quit without a checkpoint)…');
    controller.abort();
  };
  if (io.handleSigint === true) process.on('SIGINT', onSigint);
  const signal = { get aborted() { return controller.signal.aborted || io.signal?.aborted === true; } };
  const started = performance.now();
  let result: TrainResult<MethodStateBase>;
  try {
    // With workers, the task module they import defines problem, strategy, loss and data
    // (and certifies each crop's hypergradient with the constants it was given).
    const lower = workers != null ? { workers: workers.pool } : {
      problem: setup.problem,
      strategy,
      data: setup.train,
      loss: setup.loss,
      batchData: (batch: number[]) => tf.tidy(() => {
        const idx = tf.tensor1d(batch, 'int32');
        return { y: tf.gather(setup.train.y, idx), clean: tf.gather(setup.train.clean, idx) };
      }),
      ...(constants != null ? { constants } : {}),
    };
    result = await train({
      method,
      ...lower,
      theta0,
      ...(setup.model.project != null ? { project: setup.model.project } : {}),
      budget: config.budget,
      onProgress: (e: ProgressEvent) => progress.onProgress(e),
      checkpoint: fileCheckpoint(join(c.out, 'checkpoint.json'), config.output.checkpointEvery),
      resume: c.resume,
      signal,
    });
  } finally {
    progress.stop();
    if (io.handleSigint === true) process.removeListener('SIGINT', onSigint);
    (strategy as { dispose?: () => void } | undefined)?.dispose?.();
    await workers?.close();
  }
  const seconds = (performance.now() - started) / 1000;
  try {
    if (result.status === 'aborted') {
      const summary = { status: result.status, message: result.message, iterations: result.history.length, checkpoint: join(c.out, CHECKPOINT_FILE) };
      writeJson(join(c.out, 'summary.json'), summary);
      say(io.stderr, `bilevel train: stopped after ${result.history.length} iterations; checkpoint ${summary.checkpoint}. Continue with: bilevel train ${c.file} --resume`);
      if (c.json) say(io.stdout, JSON.stringify(summary, null, 2));
      return EXIT_INTERRUPTED;
    }
    const summary: RunSummary = await writeOutputs({ config, setup, result, out: c.out, backend: c.backend, seconds, constants, log, quiet: c.quiet || c.json });
    if (c.json) say(io.stdout, JSON.stringify(summary, null, 2));
    return 0;
  } finally {
    disposeParams(result.theta as Params);
  }
}

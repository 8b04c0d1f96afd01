/**
 * `bilevel eval <run-dir> [images…]`: apply a learned model (the run's config.json and
 * theta.json) to the run's held-out crops (no images) or to new images — measurements, or
 * clean images degraded by the run's task (`--degrade`) — with PSNR / SSIM when references
 * are known.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { tf, initBackend, disposeParams, paramsFromArrays } from '@bilevel/core';
import type { Params, Problem } from '@bilevel/core';
import { loadImage } from '@bilevel/imaging/node';
import { UsageError, FailureError } from '../../errors.js';
import { parseArgv, flagsHelp, type FlagSpec } from '../../flags.js';
import { validateConfig } from '../../config/load.js';
import type { TrainConfig } from '../../config/schema.js';
import { handleProcessErrors } from '../../process.js';
import { outputFolder, writeJson, markdownTable } from '../../output.js';
import { buildSetup, reconstruct, solveImage } from '../build/setup.js';
import { buildTask } from '../build/tasks.js';
import { buildModel } from '../build/models.js';
import type { PairData } from '../build/constants.js';
import { saveOne } from '../build/images.js';
import { say, withLogsOnStderr, type CliIo } from '../io.js';
import { scores, type Scores } from './outputs.js';

/** Flags of `bilevel eval`. */
export const EVAL_FLAGS: Record<string, FlagSpec> = {
  references: { type: 'string', description: 'comma-separated clean images, one per input image: PSNR / SSIM against them' },
  degrade: { type: 'boolean', description: "the images are clean: degrade them with the run's task (seeded), reconstruct, and score against them" },
  seed: { type: 'number', description: 'noise seed of --degrade', default: 0 },
  out: { type: 'string', description: 'output folder (default <run-dir>/eval)' },
  json: { type: 'boolean', description: 'print the results as JSON on stdout' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
};

/** Help of `bilevel eval`. */
export function evalHelp(flags: Record<string, FlagSpec>): string {
  return `bilevel eval <run-dir> [images...]: apply the model learned by bilevel train

Without images: reconstructs the run's held-out crops again and scores them.
With images: each PNG is a measurement y of the run's task (denoise, deblur), or, with --degrade, a
clean image that is degraded first (any task). Writes <name>-reconstructed.png (and -degraded.png)
and eval.json to the output folder.

flags:
${flagsHelp(flags)}`;
}

interface Row {
  image: string;
  degraded?: Scores;
  reconstructed?: Scores;
  files: string[];
}

function readRun(runDir: string): { config: TrainConfig; theta: () => Params } {
  const configFile = join(runDir, 'config.json');
  const thetaFile = join(runDir, 'theta.json');
  if (!existsSync(configFile) || !existsSync(thetaFile)) {
    throw new UsageError(`bilevel eval: ${runDir} is not a finished run (needs config.json and theta.json, which bilevel train writes at the end).`);
  }
  const config = validateConfig(JSON.parse(readFileSync(configFile, 'utf8')), configFile, runDir);
  const arrays = JSON.parse(readFileSync(thetaFile, 'utf8')) as Record<string, { shape: number[]; values: number[] }>;
  // Tensors only once the backend is up.
  return { config, theta: () => paramsFromArrays(arrays) };
}

function loadPng(path: string, what: string): tf.Tensor4D {
  if (!existsSync(path)) throw new UsageError(`bilevel eval: no such ${what} ${path}.`);
  try {
    return loadImage(path);
  } catch (e) {
    throw new FailureError(`bilevel eval: cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** One new image: build the task and model for its size, reconstruct, score. */
function evalImage(config: TrainConfig, theta: Params, path: string, reference: string | undefined, degrade: boolean, seed: number, out: string): Row {
  const image = loadPng(path, 'image');
  const [h, w] = [image.shape[1], image.shape[2]];
  if (!degrade && config.task.kind !== 'denoise' && config.task.kind !== 'deblur') {
    image.dispose();
    throw new UsageError(`bilevel eval: task '${config.task.kind}' measures more than a picture (a mask, k-space or a sinogram): pass clean images with --degrade.`);
  }
  if ((config.task.kind === 'inpaint' || config.task.kind === 'mri' || config.task.kind === 'ct') && h !== w) {
    image.dispose();
    throw new UsageError(`bilevel eval: task '${config.task.kind}' builds square masks; ${path} is ${h}×${w}.`);
  }
  const task = buildTask(config.task, h, '.');
  const model = buildModel(config.model, task.operator, config.data.seed);
  const name = basename(path, extname(path));
  const files: string[] = [];
  try {
    const clean = degrade ? image : reference != null ? loadPng(reference, 'reference') : undefined;
    if (clean != null && (clean.shape[1] !== h || clean.shape[2] !== w)) throw new UsageError(`bilevel eval: reference ${reference} is ${clean.shape[1]}×${clean.shape[2]}, image ${path} is ${h}×${w}.`);
    const y = degrade ? task.degrade(image, seed) : image.clone();
    const data: PairData = { y, clean: clean ?? y };
    const problem = model.built.problem as unknown as Problem<PairData>;
    const x = solveImage(model, problem, theta, data);
    const picture = task.picture(y);
    saveOne(join(out, `${name}-reconstructed.png`), x, 0);
    files.push(`${name}-reconstructed.png`);
    if (degrade) {
      saveOne(join(out, `${name}-degraded.png`), picture, 0);
      files.push(`${name}-degraded.png`);
    }
    const row: Row = { image: path, files, ...(clean != null ? { degraded: scores(picture, clean), reconstructed: scores(x, clean) } : {}) };
    tf.dispose([x, picture, y, ...(clean != null && clean !== image ? [clean] : [])]);
    return row;
  } finally {
    image.dispose();
    model.built.dispose();
    task.dispose();
  }
}

/** `bilevel eval`; returns the exit code (-1: print the help). */
export async function evalCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgv(argv, EVAL_FLAGS, 'bilevel eval');
  if (values.help === true) return -1;
  if (positionals.length === 0) throw new UsageError('bilevel eval: give the run folder (bilevel eval <run-dir> [images...]).');
  const [runDir, ...images] = positionals.map((p) => resolve(p));
  const references = values.references != null ? String(values.references).split(',').map((s) => resolve(s.trim())) : undefined;
  if (references != null && references.length !== images.length) throw new UsageError(`bilevel eval: --references names ${references.length} image(s) for ${images.length} input image(s); give one per image, in order.`);
  if (references != null && values.degrade === true) throw new UsageError('bilevel eval: --degrade scores against the images themselves; drop --references.');
  const seed = (values.seed as number | undefined) ?? 0;
  const json = values.json === true;
  const { config, theta: readTheta } = readRun(runDir);
  const out = outputFolder(values.out != null ? String(values.out) : join(runDir, 'eval'));
  return withLogsOnStderr(json, async () => {
    await initBackend(config.backend != null ? { backend: config.backend } : {});
    if (io.handleSigint === true) handleProcessErrors('bilevel eval');
    const theta = readTheta();
    const rows: Row[] = [];
    try {
      if (images.length === 0) {
        const setup = buildSetup(config, runDir);
        try {
          const x = reconstruct(setup, theta, setup.test);
          const picture = setup.task.picture(setup.test.y);
          const files: string[] = [];
          for (let i = 0; i < Math.min(config.output.images, config.data.testCount); i++) {
            saveOne(join(out, `test${i}-reconstructed.png`), x, i);
            files.push(`test${i}-reconstructed.png`);
          }
          rows.push({ image: 'held-out crops', degraded: scores(picture, setup.test.clean), reconstructed: scores(x, setup.test.clean), files });
          tf.dispose([x, picture]);
        } finally {
          setup.dispose();
        }
      } else {
        images.forEach((path, i) => rows.push(evalImage(config, theta, path, references?.[i], values.degrade === true, seed, out)));
      }
    } finally {
      disposeParams(theta);
    }
    const result = { run: runDir, out, results: rows };
    writeJson(join(out, 'eval.json'), result);
    if (json) say(io.stdout, JSON.stringify(result, null, 2));
    else {
      const fmt = (s: Scores | undefined, k: 'psnr' | 'ssim') => (s == null ? '-' : s[k].toFixed(k === 'psnr' ? 2 : 4));
      say(io.stdout, markdownTable(rows.map((r) => ({ image: r.image, 'input PSNR dB': fmt(r.degraded, 'psnr'), 'PSNR dB': fmt(r.reconstructed, 'psnr'), SSIM: fmt(r.reconstructed, 'ssim') }))));
      say(io.stdout, `wrote ${out}/{eval.json, ${rows.flatMap((r) => r.files).join(', ')}}`);
    }
    return 0;
  });
}

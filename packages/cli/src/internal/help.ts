/** The `--help` texts, with the config's kinds read from the schema itself. */
import { flagsHelp, type FlagSpec } from '../flags.js';
import { TASK_SCHEMAS } from '../config/tasks.js';
import { MODEL_SCHEMAS } from '../config/models.js';
import { STRATEGY_SCHEMAS, METHOD_SCHEMAS } from '../config/training.js';
import { WORKERS_SCHEMAS } from '../config/workers.js';

type Kinded = { shape: Record<string, unknown> & { kind: { value: string } }; description?: string };

/** `kind: one line` for each variant of a config field, with its fields and defaults. */
function kinds(schemas: readonly unknown[]): string {
  return (schemas as Kinded[])
    .map((s) => {
      const fields = Object.keys(s.shape).filter((k) => k !== 'kind');
      return `      ${JSON.stringify(s.shape.kind.value).padEnd(15)} ${s.description ?? ''}${fields.length > 0 ? `; fields: ${fields.join(', ')}` : ''}`;
    })
    .join('\n');
}

/** The main help. */
export function mainHelp(version: string): string {
  return `bilevel ${version}: learn variational image-reconstruction models by bilevel optimisation

usage:
  bilevel train <config.json|yaml> [--resume] [--fresh] [--out dir] [--json]   learn a model from a config
  bilevel eval <run-dir> [images...] [--references ...] [--degrade] [--json]  apply a learned model
  bilevel check <module.mjs> [--json]                                          check a problem module's derivatives and strategies
  bilevel worker <config.json|yaml>                                            a worker process for a config with workers: { kind: redis }
  bilevel schema                                                               print the config's JSON Schema
  bilevel <command> --help                                                     help of one command
  bilevel --version

exit codes: 0 done, 1 the run failed (or check found a problem), 2 usage error (bad flag or config field), 130 stopped by Ctrl-C (checkpoint written)`;
}

/** Help of `bilevel train`. */
export function trainHelp(flags: Record<string, FlagSpec>): string {
  return `bilevel train <config.json|yaml>: learn θ of a reconstruction model

Writes to the output folder (default runs/<config name>/ next to the config):
  test<i>-{clean,degraded,reconstructed}.png  held-out crops (output.images of them)
  mosaic.png                                  those crops, one row each: clean | degraded | reconstructed
  filters.png                                 learned filters (filter models)
  training.svg (+ training.vl.json)           loss vs work, training PSNR vs iteration
  summary.json                                held-out PSNR/SSIM at θ₀ and learned θ, history, status
  theta.json, config.json, checkpoint.json    learned θ (for bilevel eval), the resolved config, the checkpoint (+ .prev, .history.jsonl)
Ctrl-C stops after the current iteration and writes the checkpoint; --resume continues.

flags:
${flagsHelp(flags)}

config fields (every one has a default except model; paths are relative to the config file):
  task      what degrades the clean images (kind):
${kinds(TASK_SCHEMAS)}
  data      train, test (sample names ${'astronaut, brick, camera, cell, coins, grass, gravel, text'} or .png paths, or { folder }),
            crop, count, testCount, seed
  model     the regulariser learned (kind):
${kinds(MODEL_SCHEMAS)}
  strategy  how the hypergradient is computed (kind):
${kinds(STRATEGY_SCHEMAS)}
  method    the upper-level method (kind):
${kinds(METHOD_SCHEMAS)}
  budget    iterations, work, seconds (the first reached stops the run)
  output    dir, checkpointEvery, images
  backend   wasm | cpu | tensorflow
  workers   optional: compute the hypergradient crop by crop (kind; default: the whole batch in this process):
${kinds(WORKERS_SCHEMAS)}
The full schema with every default: bilevel schema (JSON Schema; also schema/config.schema.json in the package).`;
}

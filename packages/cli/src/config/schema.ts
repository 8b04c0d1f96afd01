/**
 * The config of `bilevel train`: task, data, model, strategy, method, budget, output. Every
 * field has a default except the model; unknown fields are errors. Paths are relative to
 * the config file.
 *
 * @packageDocumentation
 */
import { z } from 'zod';
import { SAMPLE_IMAGE_NAMES } from '@bilevel/imaging';
import { taskSchema } from './tasks.js';
import { modelSchema } from './models.js';
import { strategySchema, methodSchema, budgetSchema } from './training.js';
import { workersSchema } from './workers.js';

const imageRef = z.string().min(1).refine((s) => (SAMPLE_IMAGE_NAMES as readonly string[]).includes(s) || /\.png$/i.test(s), {
  error: `must be a bundled sample (${SAMPLE_IMAGE_NAMES.join(', ')}) or a .png path`,
});

/** A set of images: bundled sample names and PNG paths, or every PNG of a folder. */
export const imagesSchema = z.union([
  z.array(imageRef).min(1),
  z.strictObject({ folder: z.string().min(1).describe('a folder of PNG files, relative to the config file') }),
]).describe(`bundled samples (${SAMPLE_IMAGE_NAMES.join(', ')}) and .png paths, or { "folder": "dir" }`);

/** The `data` field. */
export const dataSchema = z.strictObject({
  train: imagesSchema.prefault(['camera', 'coins']).describe('images the training crops come from'),
  test: imagesSchema.prefault(['astronaut']).describe('images the held-out crops come from'),
  crop: z.int().min(8).max(1024).default(64).describe('side of the square crops, pixels'),
  count: z.int().min(1).max(4096).default(4).describe('training crops'),
  testCount: z.int().min(1).max(4096).default(4).describe('held-out crops'),
  seed: z.int().min(0).default(0).describe('seed of the crops and the noise'),
}).describe('training and held-out images');

/** The `output` field. */
export const outputSchema = z.strictObject({
  dir: z.string().min(1).optional().describe("output folder, relative to the config file (default runs/<config file name>)"),
  checkpointEvery: z.int().min(1).default(5).describe('iterations between checkpoints'),
  images: z.int().min(0).max(64).default(4).describe('held-out crops written as PNG (clean / degraded / reconstructed)'),
}).describe('what is written where');

/** The whole config of `bilevel train`. */
export const configSchema = z.strictObject({
  $schema: z.string().optional().describe('path or URL of the JSON Schema (for editors)'),
  name: z.string().optional().describe('a name for the run (summary and plot titles)'),
  task: taskSchema.prefault({ kind: 'denoise' }),
  data: dataSchema.prefault({}),
  model: modelSchema,
  strategy: strategySchema.prefault({ kind: 'implicit' }),
  method: methodSchema.prefault({ kind: 'maid' }),
  budget: budgetSchema.prefault({ iterations: 20 }),
  output: outputSchema.prefault({}),
  workers: workersSchema.optional(),
  backend: z.enum(['wasm', 'cpu', 'tensorflow']).optional().describe('tfjs backend (default: the best available)'),
}).describe('bilevel train: learn a reconstruction model');

/** A validated config (defaults filled in). */
export type TrainConfig = z.output<typeof configSchema>;
/** A config as written (defaults optional). */
export type TrainConfigInput = z.input<typeof configSchema>;

/**
 * The config schema as JSON Schema (draft 2020-12), for editors: point a config's
 * `$schema` at a file holding it (`bilevel schema > bilevel.schema.json`), or at
 * `node_modules/@bilevel/cli/schema/config.schema.json`.
 *
 * @returns the JSON Schema of the config as written (defaults optional).
 * @example
 * ```ts
 * writeFileSync('bilevel.schema.json', JSON.stringify(configJsonSchema(), null, 2));
 * ```
 */
export function configJsonSchema(): Record<string, unknown> {
  return { ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }), title: 'bilevel train config' } as Record<string, unknown>;
}

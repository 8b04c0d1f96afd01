/**
 * Config schema, part 1: the task (what degrades the clean images). Each task is one
 * strict object with a literal `kind`; a new task (CT, …) is one more entry of
 * {@link TASK_SCHEMAS} plus its builder in `internal/build/tasks.ts`.
 *
 * @packageDocumentation
 */
import { z } from 'zod';

const noise = (d: number) => z.number().min(0).max(1).default(d).describe('standard deviation σ of the added Gaussian noise (images are in [0, 1])');
const seed = z.int().min(0).default(0).describe('seed of the random parts (noise, masks, crops)');

/** Denoising: `y = x + σ·n`. */
export const denoiseTask = z.strictObject({
  kind: z.literal('denoise'),
  sigma: noise(0.1),
}).describe('denoising: y = x + σ n');

/** Deblurring: `y = k ∗ x + σ·n` with a Gaussian, box or motion kernel (`@bilevel/imaging`'s `blur`). */
export const deblurTask = z.strictObject({
  kind: z.literal('deblur'),
  blur: z.enum(['gaussian', 'box', 'motion']).default('gaussian').describe('blur kernel'),
  size: z.int().min(3).max(31).refine((v) => v % 2 === 1, { error: 'must be odd' }).default(9).describe('kernel side (odd)'),
  width: z.number().positive().default(1.5).describe('standard deviation of the Gaussian kernel, pixels'),
  length: z.int().min(1).default(9).describe('length of the motion kernel, pixels'),
  angle: z.number().default(0).describe('angle of the motion kernel, degrees'),
  sigma: noise(0.01),
}).describe('deblurring: y = k ∗ x + σ n');

/** Inpainting: `y = M ⊙ x + σ·n` with a seeded random pixel mask. */
export const inpaintTask = z.strictObject({
  kind: z.literal('inpaint'),
  observed: z.number().gt(0).max(1).default(0.6).describe('fraction of the pixels observed'),
  sigma: noise(0.01),
  seed,
}).describe('inpainting: y = M ⊙ x + σ n, M a random pixel mask');

/** MRI: `y = M ⊙ F x + σ·n` (subsampled Fourier), Cartesian lines, random samples or a mask PNG. */
export const mriTask = z.strictObject({
  kind: z.literal('mri'),
  mask: z.enum(['cartesian', 'random']).default('cartesian').describe("sampling pattern (ignored when 'maskFile' is given)"),
  acceleration: z.number().min(1).default(4).describe('Cartesian mask: undersampling factor'),
  centerLines: z.int().min(0).default(4).describe('Cartesian mask: fully sampled low-frequency lines'),
  fraction: z.number().gt(0).max(1).default(0.3).describe('random mask: fraction of the frequencies sampled'),
  maskFile: z.string().min(1).optional().describe('a PNG of the crop size (white = sampled, zero frequency at the top-left corner), relative to the config file'),
  sigma: noise(0.01),
  seed,
}).describe('MRI with a mask: y = M ⊙ F x + σ n');

/** Sparse-view parallel-beam CT: `y = R x + σ·max(Rx)·n` (`@bilevel/imaging`'s `radon`). */
export const ctTask = z.strictObject({
  kind: z.literal('ct'),
  angles: z.int().min(1).max(720).default(30).describe('projection angles in [0, π)'),
  sigma: z.number().min(0).max(1).default(0.01).describe('noise standard deviation relative to the largest sinogram value'),
}).describe('sparse-view CT: y = R x + σ max(Rx) n, R the parallel-beam Radon transform');

/** Every task, in the order `--help` lists them. */
export const TASK_SCHEMAS = [denoiseTask, deblurTask, inpaintTask, mriTask, ctTask] as const;

/** The `task` field: one of {@link TASK_SCHEMAS}, chosen by `kind`. */
export const taskSchema = z.discriminatedUnion('kind', TASK_SCHEMAS).describe('what degrades the clean images');

/** A validated task. */
export type TaskConfig = z.output<typeof taskSchema>;

/**
 * Builders of the tasks: the forward operator A and the degradation y = A x + noise. One
 * entry per `task.kind` of the config schema (`config/tasks.ts`).
 */
import { tf } from '@bilevel/core';
import { addNoise, blur, inpainting, randomMask, cartesianMask, subsampledFourier, radon, fbp } from '@bilevel/imaging';
import type { LinearOperator } from '@bilevel/imaging';
import { loadImage } from '@bilevel/imaging/node';
import { UsageError } from '../../errors.js';
import { configPath } from '../../config/load.js';
import type { TaskConfig } from '../../config/tasks.js';

/** A task ready to use: its operator (undefined: the identity) and how it degrades clean crops. */
export interface BuiltTask {
  operator: LinearOperator | undefined;
  /** `y = A x + σ n` (seeded); the caller owns it. */
  degrade(clean: tf.Tensor4D, seed: number): tf.Tensor;
  /** An image of y for the PNGs (y itself, or the zero-filled Aᵀy for MRI). */
  picture(y: tf.Tensor): tf.Tensor4D;
  dispose(): void;
}

type Builder<K extends TaskConfig['kind']> = (task: Extract<TaskConfig, { kind: K }>, crop: number, dir: string) => BuiltTask;

const noisy = (operator: LinearOperator | undefined, sigma: number) => (clean: tf.Tensor4D, seed: number) =>
  tf.tidy(() => {
    const ax = operator ? operator.apply(clean) : clean;
    return sigma > 0 ? addNoise(ax, sigma, seed) : ax.clone();
  });

const own = (operator: LinearOperator | undefined, picture: (y: tf.Tensor) => tf.Tensor4D, degrade = noisy(operator, 0)): BuiltTask => ({
  operator,
  degrade,
  picture,
  dispose: () => operator?.dispose(),
});

const same = (y: tf.Tensor) => y.clone() as tf.Tensor4D;

const BUILDERS: { [K in TaskConfig['kind']]: Builder<K> } = {
  denoise: (t) => own(undefined, same, noisy(undefined, t.sigma)),
  deblur: (t) => {
    const A = blur({ kind: t.blur, size: t.size, sigma: t.width, length: t.length, angle: t.angle });
    return own(A, same, noisy(A, t.sigma));
  },
  inpaint: (t, crop) => {
    const mask = randomMask(crop, crop, t.observed, t.seed);
    const A = inpainting(mask);
    mask.dispose();
    // Noise on the observed pixels only: y = M ⊙ (x + σ n).
    const degrade = (clean: tf.Tensor4D, seed: number) => tf.tidy(() => A.apply(t.sigma > 0 ? addNoise(clean, t.sigma, seed) : clean));
    return own(A, same, degrade);
  },
  mri: (t, crop, dir) => {
    let mask: tf.Tensor2D;
    if (t.maskFile != null) {
      const image = loadImage(configPath(dir, t.maskFile));
      if (image.shape[1] !== crop || image.shape[2] !== crop) {
        image.dispose();
        throw new UsageError(`task.maskFile: got ${JSON.stringify(t.maskFile)} of ${image.shape[1]}×${image.shape[2]}; it must be data.crop × data.crop = ${crop}×${crop}.`);
      }
      mask = tf.tidy(() => tf.cast(tf.greater(tf.reshape(image, [crop, crop]), 0.5), 'float32') as tf.Tensor2D);
      image.dispose();
    } else if (t.mask === 'random') {
      mask = randomMask(crop, crop, t.fraction, t.seed);
    } else {
      mask = cartesianMask({ height: crop, width: crop, acceleration: t.acceleration, centerLines: t.centerLines, seed: t.seed });
    }
    const A = subsampledFourier(mask);
    const m = tf.reshape(mask, [1, crop, crop, 1]);
    mask.dispose();
    // Noise on the sampled frequencies only: y = M ⊙ (F x + σ n).
    const degrade = (clean: tf.Tensor4D, seed: number) => tf.tidy(() => tf.mul(t.sigma > 0 ? addNoise(A.apply(clean), t.sigma, seed) : A.apply(clean), m));
    const picture = (y: tf.Tensor) => A.adjoint(y) as tf.Tensor4D;
    return { operator: A, degrade, picture, dispose: () => { A.dispose(); m.dispose(); } };
  },
  ct: (t, crop) => {
    const A = radon(crop, { angles: t.angles });
    // Noise relative to the sinogram's scale (line integrals grow with the image side).
    const degrade = (clean: tf.Tensor4D, seed: number) => tf.tidy(() => {
      const s = A.apply(clean);
      return t.sigma > 0 ? tf.add(s, tf.mul(tf.sub(addNoise(s, 1, seed), s), tf.mul(t.sigma, tf.max(s)))) : s;
    });
    return own(A, (y) => fbp(A, y) as tf.Tensor4D, degrade);
  },
};

/** The task of a config, built for crops of side `crop`. */
export function buildTask(task: TaskConfig, crop: number, dir: string): BuiltTask {
  return (BUILDERS[task.kind] as Builder<TaskConfig['kind']>)(task as never, crop, dir);
}

import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Folder of the bundled sample images (public domain / CC0, see `data/LICENSES.md`),
 * resolved from this module's location so it works from any working directory.
 */
export const SAMPLE_IMAGE_DIR: string = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'data');

/**
 * The bundled sample images, by name: camera, astronaut (RGB), brick, grass, gravel, coins,
 * cell, text. Load one with `loadImage`.
 *
 * @returns a map from the file name without `.png` to its absolute path.
 * @example
 * ```ts
 * const img = loadImage(sampleImages().camera);
 * ```
 */
export function sampleImages(): Record<string, string> {
  let files: string[];
  try {
    files = readdirSync(SAMPLE_IMAGE_DIR);
  } catch (e) {
    throw new Error(`sampleImages: the sample folder '${SAMPLE_IMAGE_DIR}' is missing (${(e as Error).message}); reinstall @bilevel/imaging with its data/ folder.`);
  }
  return Object.fromEntries(files.filter((f) => f.endsWith('.png')).sort().map((f) => [f.slice(0, -4), join(SAMPLE_IMAGE_DIR, f)]));
}

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The `data/` folder of the @bilevel/imaging package that holds `from`: the nearest
 * ancestor folder whose package.json is this package's. The same search works from
 * src/ (tests, tsx), dist/ (ESM) and dist/cjs/ (CommonJS), whose depths differ.
 */
function packageDataDir(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === '@bilevel/imaging') {
      return join(dir, 'data');
    }
    if (dirname(dir) === dir) return resolve(from, '..', '..', 'data');
  }
}

/**
 * Folder of the bundled sample images (public domain / CC0, see `data/LICENSES.md`),
 * resolved from this module's location so it works from any working directory.
 */
export const SAMPLE_IMAGE_DIR: string = packageDataDir(dirname(fileURLToPath(import.meta.url)));

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

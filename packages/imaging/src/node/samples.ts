import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAMPLE_IMAGE_NAMES } from '../data/samples.js';

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
 * The bundled sample images on disk, by name (`SAMPLE_IMAGE_NAMES`): camera, astronaut
 * (RGB), brick, grass, gravel, coins, cell, text. Load one with `loadImage`.
 *
 * @returns a map from the name to the file's absolute path.
 * @example
 * ```ts
 * import { loadImage, sampleImages } from '@bilevel/imaging/node';
 * const img = loadImage(sampleImages().camera);
 * ```
 */
export function sampleImages(): Record<string, string> {
  const paths: Record<string, string> = Object.fromEntries(SAMPLE_IMAGE_NAMES.map((name) => [name, join(SAMPLE_IMAGE_DIR, `${name}.png`)]));
  const missing = Object.values(paths).filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(`sampleImages: ${missing.length} sample file(s) are missing from '${SAMPLE_IMAGE_DIR}' (e.g. ${missing[0]}); reinstall @bilevel/imaging with its data/ folder.`);
  }
  return paths;
}

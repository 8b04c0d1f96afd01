import type { tf } from '@bilevel/core';
import { imageFromPng } from './png.js';

/**
 * Names of the bundled sample images (public domain / CC0, see `data/LICENSES.md`): gray
 * 512×512 `camera`, RGB `astronaut`, textures `brick`, `grass`, `gravel`, and `coins`,
 * `cell`, `text`.
 */
export const SAMPLE_IMAGE_NAMES = ['astronaut', 'brick', 'camera', 'cell', 'coins', 'grass', 'gravel', 'text'] as const;

/** One of {@link SAMPLE_IMAGE_NAMES}. */
export type SampleImageName = (typeof SAMPLE_IMAGE_NAMES)[number];

// One literal `new URL('…', import.meta.url)` per file: the form Vite, webpack 5, Parcel and
// Rollup's URL plugins recognise, copy into the build and rewrite. Relative to this module,
// `../../data` is the package's data/ folder both from src/data/ and from the ESM dist/data/
// (what bundlers read); the CommonJS copy in dist/cjs/ is for Node, where
// `@bilevel/imaging/node`'s sampleImages() finds the folder by the package manifest.
const URLS: Record<SampleImageName, () => URL> = {
  astronaut: () => new URL('../../data/astronaut.png', import.meta.url),
  brick: () => new URL('../../data/brick.png', import.meta.url),
  camera: () => new URL('../../data/camera.png', import.meta.url),
  cell: () => new URL('../../data/cell.png', import.meta.url),
  coins: () => new URL('../../data/coins.png', import.meta.url),
  grass: () => new URL('../../data/grass.png', import.meta.url),
  gravel: () => new URL('../../data/gravel.png', import.meta.url),
  text: () => new URL('../../data/text.png', import.meta.url),
};

function checkName(where: string, name: unknown): SampleImageName {
  if (typeof name !== 'string' || !(SAMPLE_IMAGE_NAMES as readonly string[]).includes(name)) {
    throw new Error(`${where}: unknown sample image '${String(name)}'; use one of ${SAMPLE_IMAGE_NAMES.join(', ')}.`);
  }
  return name as SampleImageName;
}

/**
 * The URL of a bundled sample PNG. In an app built by Vite / webpack 5 / Parcel it points to
 * the copy the bundler emitted; in Node it is a `file:` URL into the package's `data/` folder.
 * A bundler that does not rewrite `new URL(…, import.meta.url)` (plain esbuild) needs the
 * files copied next to the bundle (they are in the package's data/ folder).
 *
 * @param name - one of {@link SAMPLE_IMAGE_NAMES}.
 * @returns the image's URL.
 * @example
 * ```ts
 * const img = imageFromPng(new Uint8Array(await (await fetch(sampleImageUrl('camera'))).arrayBuffer()));
 * ```
 */
export function sampleImageUrl(name: SampleImageName): URL {
  return URLS[checkName('sampleImageUrl', name)]();
}

/**
 * Fetches a bundled sample image and decodes it to a gray tensor `[1, h, w, 1]` in [0, 1]
 * (browsers and Web Workers; in Node use `loadImage(sampleImages()[name])` from
 * `@bilevel/imaging/node`, since Node's `fetch` does not read `file:` URLs).
 *
 * @param name - one of {@link SAMPLE_IMAGE_NAMES}.
 * @param fetchImpl - the `fetch` to use (default: the global one).
 * @returns a `[1, h, w, 1]` float32 tensor (the caller disposes it).
 * @example
 * ```ts
 * const camera = await fetchSampleImage('camera');   // [1, 512, 512, 1]
 * ```
 */
export async function fetchSampleImage(name: SampleImageName, fetchImpl: typeof fetch = globalThis.fetch): Promise<tf.Tensor4D> {
  const url = sampleImageUrl(name);
  if (url.protocol === 'file:' && fetchImpl === globalThis.fetch) {
    throw new Error(`fetchSampleImage: '${url.href}' is a file: URL, which fetch cannot read in Node; use loadImage(sampleImages().${name}) from '@bilevel/imaging/node'.`);
  }
  if (typeof fetchImpl !== 'function') throw new Error(`fetchSampleImage: no fetch in this runtime; pass one as the second argument.`);
  const response = await fetchImpl(url.href);
  if (!response.ok) throw new Error(`fetchSampleImage: GET ${url.href} answered ${response.status}; serve the package's data/ folder or copy the PNGs next to the bundle.`);
  return imageFromPng(new Uint8Array(await response.arrayBuffer()));
}

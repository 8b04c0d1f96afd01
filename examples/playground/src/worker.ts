/**
 * The learning worker: tfjs runs here, off the page's thread. Training runs are served by
 * `serveTraining` (progress events, stop, errors); on the same port the worker posts the
 * frames the page draws and answers the test hook's requests.
 */
import { initBackend } from '@bilevel/core';
import { serveTraining } from '@bilevel/outer';
import { SAMPLE_IMAGE_NAMES, sampleImageUrl, decodePng, imageFromPixels, type SampleImageName } from '@bilevel/imaging';
// Served by vite from this package's own build: no request leaves the page's origin.
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { preparePlayground, hypergradientOnce } from './run.js';
import type { GrayImage } from './choices.js';
import type { BackendChoice, FromWorker, ImageSource, ToWorker, TrainRequest } from './protocol.js';

const wasmPaths = { 'tfjs-backend-wasm.wasm': wasmPlain, 'tfjs-backend-wasm-simd.wasm': wasmSimd, 'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded };
const scope = self as unknown as { postMessage(m: unknown): void; addEventListener(type: 'message', listener: (e: MessageEvent) => void): void };
const post = (m: FromWorker) => scope.postMessage(m);

const useBackend = (backend: BackendChoice) => initBackend({ backend, wasmPaths, log: false });

/**
 * Gray values in [0, 1]: samples through @bilevel/imaging's own PNG decoder (the same code
 * Node runs), uploads through the browser's decoder (any format it reads) and imageFromPixels.
 */
async function decode(source: ImageSource): Promise<GrayImage> {
  if (source.kind === 'sample') {
    if (!(SAMPLE_IMAGE_NAMES as readonly string[]).includes(source.name)) throw new Error(`playground: unknown sample '${source.name}'; use one of ${SAMPLE_IMAGE_NAMES.join(', ')}.`);
    const response = await fetch(sampleImageUrl(source.name as SampleImageName).href);
    if (!response.ok) throw new Error(`playground: GET of sample '${source.name}' answered ${response.status}.`);
    return decodePng(new Uint8Array(await response.arrayBuffer()));
  }
  // No colour management or premultiplication: the file's own samples.
  const bitmap = await createImageBitmap(source.blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  const image = imageFromPixels(ctx.getImageData(0, 0, bitmap.width, bitmap.height));
  const values = (image.dataSync() as Float32Array).slice();
  image.dispose();
  return { width: bitmap.width, height: bitmap.height, values };
}

serveTraining(scope, async (request: TrainRequest) => {
  await useBackend(request.backend);
  const setup = preparePlayground(request.config, await decode(request.source));
  post({ type: 'playground:start', ...setup.start });
  return {
    options: { ...setup.options, onProgress: (event, theta) => post({ type: 'playground:frame', ...setup.frame(theta, event) }) },
    dispose: setup.dispose,
  };
});

async function answer(m: ToWorker): Promise<GrayImage | string[] | ReturnType<typeof hypergradientOnce>> {
  switch (m.type) {
    case 'playground:samples': return [...SAMPLE_IMAGE_NAMES];
    case 'playground:resources': return performance.getEntriesByType('resource').map((r) => r.name);
    case 'playground:decode': return decode(m.source);
    case 'playground:hypergradient':
      await useBackend(m.backend);
      return hypergradientOnce(m.config, await decode(m.source), m.theta, m.tol);
  }
}

scope.addEventListener('message', (e) => {
  const m = e.data as ToWorker;
  if (typeof m?.type !== 'string' || !m.type.startsWith('playground:')) return; // training messages: serveTraining's
  answer(m).then(
    (value) => post({ type: 'playground:reply', id: m.id, ok: true, value }),
    (err: Error) => post({ type: 'playground:reply', id: m.id, ok: false, message: err.message }),
  );
});

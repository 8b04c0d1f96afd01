/**
 * The playground's own messages between the page and the worker, next to the training
 * protocol of `serveTraining` / `startTraining` (whose `bilevel-train:*` messages share the
 * port). Every message is structured-cloneable; pixel arrays travel as Float32Array.
 */
import type { ParamsArrays } from '@bilevel/outer';
import type { GrayImage, PlaygroundConfig } from './choices.js';
import type { PlaygroundStart, PlaygroundFrame, HypergradientReport } from './run.js';

/** tfjs backends the page offers (bundled with @tensorflow/tfjs and the wasm backend). */
export type BackendChoice = 'wasm' | 'webgl' | 'cpu';

/** Where the clean image comes from: a bundled sample of @bilevel/imaging, or an upload. */
export type ImageSource = { kind: 'sample'; name: string } | { kind: 'blob'; blob: Blob };

/** The request `startTraining` sends; the worker's builder turns it into a run. */
export interface TrainRequest {
  config: Partial<PlaygroundConfig>;
  source: ImageSource;
  backend: BackendChoice;
}

/** Requests of the test hook (and the sample list), answered by one `playground:reply`. */
export type ToWorker =
  | { type: 'playground:samples'; id: number }
  | { type: 'playground:decode'; id: number; source: ImageSource }
  | { type: 'playground:resources'; id: number }
  | { type: 'playground:hypergradient'; id: number; config: Partial<PlaygroundConfig>; source: ImageSource; theta?: ParamsArrays; tol: number; backend: BackendChoice };

export type FromWorker =
  | ({ type: 'playground:start' } & PlaygroundStart)
  | ({ type: 'playground:frame' } & PlaygroundFrame)
  | { type: 'playground:reply'; id: number; ok: true; value: GrayImage | HypergradientReport | string[] }
  | { type: 'playground:reply'; id: number; ok: false; message: string };

/**
 * Messages between the page and the learning worker. Every message is structured-cloneable;
 * pixel arrays travel as Float32Array.
 */
import type { GrayImage, PlaygroundConfig } from './session.js';
import type { PlaygroundStart, PlaygroundStep, PlaygroundResult, HypergradientReport } from './run.js';
import type { ParamsArrays } from '@bilevel/outer';

/** tfjs backends the page offers (all bundled with @tensorflow/tfjs and the wasm backend). */
export type BackendChoice = 'wasm' | 'webgl' | 'cpu';

/** Where the clean image comes from: a bundled sample (same-origin URL) or an upload. */
export type ImageSource = { kind: 'url'; url: string } | { kind: 'blob'; blob: Blob } | { kind: 'pixels'; image: GrayImage };

export type ToWorker =
  | { type: 'start'; config: Partial<PlaygroundConfig>; source: ImageSource; backend: BackendChoice }
  | { type: 'stop' }
  | { type: 'decode'; id: number; source: ImageSource }
  | { type: 'resources'; id: number }
  | { type: 'hypergradient'; id: number; config: Partial<PlaygroundConfig>; source: ImageSource; theta?: ParamsArrays; tol: number; backend: BackendChoice };

export type FromWorker =
  | ({ type: 'start' } & PlaygroundStart)
  | ({ type: 'step' } & PlaygroundStep)
  | { type: 'done'; result: PlaygroundResult }
  | { type: 'error'; message: string }
  | { type: 'reply'; id: number; ok: true; value: GrayImage | HypergradientReport | string[] }
  | { type: 'reply'; id: number; ok: false; message: string };

/**
 * The playground page: settings, the live charts and images, and the `window.__bilevel` test
 * hook. All computation happens in `worker.ts`.
 */
import './style.css';
import licences from '../../../packages/imaging/data/LICENSES.md?raw';
import { MODELS, STRATEGIES, METHODS, PLAYGROUND_DEFAULTS, type GrayImage, type PlaygroundConfig } from './choices.js';
import type { PlaygroundStart, PlaygroundFrame, HypergradientReport } from './run.js';
import type { BackendChoice, FromWorker, ImageSource, ToWorker, TrainRequest } from './protocol.js';
import { startTraining, type ParamsArrays, type TrainingProgress, type TrainingOutcome } from '@bilevel/outer';
import { drawChart } from './plot.js';

/** What a finished run reports (the test hook resolves with it). */
export interface PlaygroundResult {
  status: string;
  message: string;
  theta: ParamsArrays;
  iterations: number;
  /** Cumulative work (inner + linear iterations). */
  work: number;
  noisyPsnr: number;
  initialPsnr: number;
  psnr: number;
  reconstruction: Float32Array;
  /** Learning time without the display solves, ms; and the whole run as the page saw it. */
  learnMs: number;
  totalMs: number;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
function fill(select: HTMLSelectElement, table: Record<string, string>, selected: string): void {
  for (const [value, label] of Object.entries(table)) select.append(new Option(label, value, value === selected, value === selected));
}
fill($('model'), MODELS, PLAYGROUND_DEFAULTS.model);
fill($('strategy'), STRATEGIES, PLAYGROUND_DEFAULTS.strategy);
fill($('method'), METHODS, PLAYGROUND_DEFAULTS.method);
$('licence-text').textContent = licences;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });

function paint(canvas: HTMLCanvasElement, values: Float32Array | number[], width: number, height: number, range?: [number, number]): void {
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(width, height);
  const [lo, hi] = range ?? [0, 1];
  for (let i = 0; i < width * height; i++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, (values[i] - lo) / (hi - lo || 1))));
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

interface RunView {
  config: PlaygroundConfig;
  start?: PlaygroundStart;
  /** Progress events (F̃(θ_k), ‖h_k‖, bound, ε, δ, work, θ after the step) and the frames x̂(θ) after each step. */
  steps: TrainingProgress[];
  frames: PlaygroundFrame[];
  result?: PlaygroundResult;
  started: number;
  stop?: () => void;
}
let view: RunView | undefined;
const state = (s: 'idle' | 'running' | 'done' | 'error') => (document.body.dataset.state = s);

function thetaTable(theta: ParamsArrays): void {
  const rows = Object.entries(theta).filter(([k]) => k !== 'filters').map(([k, t]) => {
    const shown = t.values.map((v) => v.toFixed(3)).join(', ');
    const exp = k.startsWith('log') ? ` → ${k.slice(3, 4).toLowerCase()}${k.slice(4)} = ${t.values.map((v) => Math.exp(v).toPrecision(3)).join(', ')}` : '';
    return `<tr><th>${k}</th><td>${shown}${exp}</td></tr>`;
  });
  $('theta').innerHTML = rows.join('');
  const box = $('filters');
  box.replaceChildren();
  const f = theta.filters;
  if (f == null) return;
  const [s, , , k] = f.shape;
  for (let j = 0; j < k; j++) {
    const atom = Array.from({ length: s * s }, (_, i) => f.values[i * k + j]);
    const c = document.createElement('canvas');
    paint(c, atom, s, s, [Math.min(...atom), Math.max(...atom)]);
    box.append(c);
  }
}

function render(): void {
  if (view == null) return;
  const { start, steps, config } = view;
  if (start != null) {
    paint($('noisy'), start.noisy, start.crop, start.crop);
    paint($('clean'), start.clean, start.crop, start.crop);
    $('psnr-noisy').textContent = `${start.noisyPsnr.toFixed(2)} dB`;
  }
  const last = steps[steps.length - 1];
  const frame = view.frames[view.frames.length - 1];
  const shown = view.result != null
    ? { reconstruction: view.result.reconstruction, psnr: view.result.psnr, theta: view.result.theta }
    : frame != null && last?.theta != null ? { reconstruction: frame.reconstruction, psnr: frame.psnr, theta: last.theta }
      : start != null ? { reconstruction: start.initial, psnr: start.initialPsnr, theta: start.theta } : undefined;
  if (shown != null && start != null) {
    paint($('recon'), shown.reconstruction, start.crop, start.crop);
    const gain = shown.psnr - start.noisyPsnr;
    $('psnr-recon').textContent = `${shown.psnr.toFixed(2)} dB (${gain >= 0 ? '+' : ''}${gain.toFixed(2)})`;
    thetaTable(shown.theta);
  }
  drawChart($('loss-chart') as unknown as SVGSVGElement, [{ label: 'F̃(θ_k)', color: '#1f6feb', points: steps.map((s) => [s.work, s.loss]) }], { xLabel: 'work (inner + linear iterations)', yLabel: 'upper-level loss', logY: true });
  const isMaid = config.method === 'maid';
  $('accuracy-figure').style.display = isMaid ? '' : 'none';
  if (isMaid) {
    drawChart($('accuracy-chart') as unknown as SVGSVGElement, [
      { label: 'bound', color: '#d1242f', points: steps.map((s) => [s.iteration, s.bound]) },
      { label: 'ε', color: '#1a7f37', points: steps.map((s) => [s.iteration, s.eps]), dots: true },
      { label: 'δ', color: '#8250df', points: steps.map((s) => [s.iteration + 0.15, s.delta]), dots: true },
    ], { xLabel: 'upper-level iteration k', yLabel: 'bound, ε, δ', logY: true });
  }
  const e = last;
  const seconds = ((performance.now() - view.started) / 1000).toFixed(1);
  $('status').textContent = view.result != null
    ? `${view.result.status}: ${view.result.message}\n${view.result.iterations} iterations, work ${view.result.work}, learning ${(view.result.learnMs / 1000).toFixed(2)} s on ${start?.backend}; PSNR ${view.result.noisyPsnr.toFixed(2)} → ${view.result.psnr.toFixed(2)} dB`
    : e != null
      ? `iteration ${e.iteration + 1}/${config.iterations} on ${start?.backend}: F̃ = ${e.loss.toPrecision(5)}, ‖h‖ = ${e.gradNorm.toExponential(2)}${isMaid ? `, bound ${e.bound.toExponential(2)}, ε = ${e.eps.toExponential(1)}, δ = ${e.delta.toExponential(1)}` : ''}, work ${e.work}, ${seconds} s`
      : `preparing (${seconds} s)…`;
}

function readConfig(): PlaygroundConfig {
  return {
    model: $<HTMLSelectElement>('model').value as PlaygroundConfig['model'],
    strategy: $<HTMLSelectElement>('strategy').value as PlaygroundConfig['strategy'],
    method: $<HTMLSelectElement>('method').value as PlaygroundConfig['method'],
    sigma: Number($<HTMLSelectElement>('sigma').value),
    crop: Number($<HTMLSelectElement>('crop').value),
    iterations: Number($<HTMLInputElement>('iterations').value),
    seed: PLAYGROUND_DEFAULTS.seed,
  };
}
function readSource(): ImageSource {
  const file = $<HTMLInputElement>('upload').files?.[0];
  return file != null ? { kind: 'blob', blob: file } : { kind: 'sample', name: $<HTMLSelectElement>('sample').value };
}
// MAID's bound is the implicit-function one; say so before the user waits for a stop.
function hint(): void {
  const [method, strategy] = [$<HTMLSelectElement>('method').value, $<HTMLSelectElement>('strategy').value];
  $('hint').textContent = method === 'maid' && (strategy === 'unrolled' || strategy === 'jfb')
    ? 'MAID certifies descent with the implicit-function bound, which does not describe unrolled or Jacobian-free hypergradients: expect it to stop after a few iterations (accuracy-limit or backtracking-failed). Adam has no such requirement.'
    : '';
}
for (const id of ['method', 'strategy']) $(id).addEventListener('change', hint);
hint();
const readBackend = () => $<HTMLSelectElement>('backend').value as BackendChoice;

let finished: ((r: PlaygroundResult) => void) | undefined;
let failed: ((e: Error) => void) | undefined;

function ended(current: RunView, outcome: TrainingOutcome | undefined, error: Error | undefined): void {
  $<HTMLButtonElement>('start').disabled = false;
  $<HTMLButtonElement>('stop').disabled = true;
  if (view !== current) return;
  if (error != null || outcome == null || current.start == null) {
    state('error');
    const message = error?.message ?? 'playground: the run ended before it started.';
    $('status').textContent = `error: ${message}`;
    failed?.(new Error(message));
    return;
  }
  const start = current.start;
  const frame = current.frames[current.frames.length - 1];
  const last = current.steps[current.steps.length - 1];
  current.result = {
    status: outcome.status,
    message: outcome.message,
    theta: outcome.theta,
    iterations: outcome.iterations,
    work: last?.work ?? 0,
    noisyPsnr: start.noisyPsnr,
    initialPsnr: start.initialPsnr,
    psnr: frame?.psnr ?? start.initialPsnr,
    reconstruction: frame?.reconstruction ?? start.initial,
    learnMs: frame?.learnMs ?? 0,
    totalMs: performance.now() - current.started,
  };
  render();
  state('done');
  finished?.(current.result);
}

$('controls').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const current: RunView = { config: readConfig(), steps: [], frames: [], started: performance.now() };
  view = current;
  state('running');
  $<HTMLButtonElement>('start').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  render();
  const request: TrainRequest = { config: current.config, source: readSource(), backend: readBackend() };
  const run = startTraining(worker, request, { theta: true, onProgress: (e) => { current.steps.push(e); render(); } });
  current.stop = () => run.stop();
  run.result.then((outcome) => ended(current, outcome, undefined), (error: Error) => ended(current, undefined, error));
});
$('stop').addEventListener('click', () => view?.stop?.());
$('upload').addEventListener('change', () => ($<HTMLSelectElement>('sample').disabled = ($<HTMLInputElement>('upload').files?.length ?? 0) > 0));

const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextId = 1;
type Request = ToWorker;
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
function request<T>(m: WithoutId<Request>): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    worker.postMessage({ ...m, id } as ToWorker);
  });
}

// The playground's own messages; startTraining listens to the `bilevel-train:*` ones itself.
worker.addEventListener('message', (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  if (m.type === 'playground:reply') {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) p?.resolve(m.value);
    else p?.reject(new Error(m.message));
    return;
  }
  if (view == null) return;
  if (m.type === 'playground:start') view.start = m;
  else if (m.type === 'playground:frame') view.frames.push(m);
  else return;
  render();
});

// The sample list comes from the worker (@bilevel/imaging's SAMPLE_IMAGE_NAMES), so the page
// bundle needs none of the library.
const samplesReady = request<string[]>({ type: 'playground:samples' }).then((names) => {
  fill($('sample'), Object.fromEntries(names.map((k) => [k, k])), 'camera');
  return names;
});

/**
 * Test hook: what the browser test (and a curious user in the console) can call.
 * `run` drives the page's own form; `hypergradient` computes one ∇F(θ) in the worker.
 */
const hook = {
  samples: () => samplesReady,
  /** Sets the form (any subset of the config, plus sample and backend), presses Learn, resolves with the result. */
  async run(settings: Partial<PlaygroundConfig> & { sample?: string; backend?: BackendChoice } = {}): Promise<PlaygroundResult> {
    await samplesReady;
    for (const [key, value] of Object.entries(settings)) {
      const input = document.getElementById(key) as HTMLInputElement | HTMLSelectElement | null;
      if (input == null) throw new Error(`__bilevel.run: no control '${key}'; use one of sample, sigma, crop, model, strategy, method, iterations, backend.`);
      input.value = String(value);
    }
    hint();
    return new Promise((resolve, reject) => {
      finished = resolve;
      failed = reject;
      $<HTMLButtonElement>('start').click();
    });
  },
  /** The gray values of a bundled sample as the worker decodes them. */
  decodeSample: (name: string) => request<GrayImage>({ type: 'playground:decode', source: { kind: 'sample', name } }).then((g) => ({ width: g.width, height: g.height, values: Array.from(g.values) })),
  /** ∇F(θ) of a sample's crop (θ₀ of the model when `theta` is absent). */
  hypergradient: (config: Partial<PlaygroundConfig>, sample: string, theta: ParamsArrays | undefined, tol: number, backend: BackendChoice = 'wasm') =>
    request<HypergradientReport>({ type: 'playground:hypergradient', config, source: { kind: 'sample', name: sample }, theta, tol, backend }),
  last: () => view,
  /** Every resource URL the page and the worker fetched (Resource Timing), for the same-origin check. */
  resources: async () => [...performance.getEntriesByType('resource').map((e) => e.name), ...(await request<string[]>({ type: 'playground:resources' }))],
};
(window as unknown as { __bilevel: typeof hook }).__bilevel = hook;

/**
 * The playground page: settings, the live charts and images, and the `window.__bilevel` test
 * hook. All computation happens in `worker.ts`.
 */
import './style.css';
import licences from '../../../packages/imaging/data/LICENSES.md?raw';
import { MODELS, STRATEGIES, METHODS, PLAYGROUND_DEFAULTS, type GrayImage, type PlaygroundConfig } from './choices.js';
import type { PlaygroundResult, PlaygroundStart, PlaygroundStep, HypergradientReport } from './run.js';
import type { BackendChoice, FromWorker, ImageSource, ToWorker } from './protocol.js';
import type { ParamsArrays } from '@bilevel/outer';
import { drawChart } from './plot.js';

// The bundled samples of @bilevel/imaging, emitted by vite as same-origin assets.
const sampleUrls = import.meta.glob('../../../packages/imaging/data/*.png', { query: '?url', import: 'default', eager: true }) as Record<string, string>;
const samples: Record<string, string> = Object.fromEntries(Object.entries(sampleUrls).map(([path, url]) => [path.replace(/^.*\/(.*)\.png$/, '$1'), url]));

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
function fill(select: HTMLSelectElement, table: Record<string, string>, selected: string): void {
  for (const [value, label] of Object.entries(table)) select.append(new Option(label, value, value === selected, value === selected));
}
fill($('sample'), Object.fromEntries(Object.keys(samples).map((k) => [k, k])), 'camera');
fill($('model'), MODELS, PLAYGROUND_DEFAULTS.model);
fill($('strategy'), STRATEGIES, PLAYGROUND_DEFAULTS.strategy);
fill($('method'), METHODS, PLAYGROUND_DEFAULTS.method);
$('licence-text').textContent = licences;

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const post = (m: ToWorker) => worker.postMessage(m);

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
  steps: PlaygroundStep[];
  result?: PlaygroundResult;
  started: number;
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
  // Once done, the final θ (after the last step) replaces θ_k of the last event.
  const shown = view.result != null ? { reconstruction: view.result.reconstruction, psnr: view.result.psnr, theta: view.result.theta } : last;
  if (shown != null && start != null) {
    paint($('recon'), shown.reconstruction, start.crop, start.crop);
    const gain = shown.psnr - start.noisyPsnr;
    $('psnr-recon').textContent = `${shown.psnr.toFixed(2)} dB (${gain >= 0 ? '+' : ''}${gain.toFixed(2)})`;
    thetaTable(shown.theta);
  } else if (start != null) thetaTable(start.theta);
  drawChart($<SVGSVGElement & HTMLElement>('loss-chart') as unknown as SVGSVGElement, [{ label: 'F̃(θ_k)', color: '#1f6feb', points: steps.map((s) => [s.event.work, s.event.loss]) }], { xLabel: 'work (inner + linear iterations)', yLabel: 'upper-level loss', logY: true });
  const isMaid = config.method === 'maid';
  $('accuracy-figure').style.display = isMaid ? '' : 'none';
  if (isMaid) {
    drawChart($('accuracy-chart') as unknown as SVGSVGElement, [
      { label: 'bound', color: '#d1242f', points: steps.map((s) => [s.event.iteration, s.event.bound]) },
      { label: 'ε', color: '#1a7f37', points: steps.map((s) => [s.event.iteration, s.event.eps]), dots: true },
      { label: 'δ', color: '#8250df', points: steps.map((s) => [s.event.iteration + 0.15, s.event.delta]), dots: true },
    ], { xLabel: 'upper-level iteration k', yLabel: 'bound, ε, δ', logY: true });
  }
  const e = last?.event;
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
  return file != null ? { kind: 'blob', blob: file } : { kind: 'url', url: samples[$<HTMLSelectElement>('sample').value] };
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
$('controls').addEventListener('submit', (ev) => {
  ev.preventDefault();
  view = { config: readConfig(), steps: [], started: performance.now() };
  state('running');
  $<HTMLButtonElement>('start').disabled = true;
  $<HTMLButtonElement>('stop').disabled = false;
  render();
  post({ type: 'start', config: view.config, source: readSource(), backend: readBackend() });
});
$('stop').addEventListener('click', () => post({ type: 'stop' }));
$('upload').addEventListener('change', () => ($<HTMLSelectElement>('sample').disabled = ($<HTMLInputElement>('upload').files?.length ?? 0) > 0));

const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
let nextId = 1;
type Request = Extract<ToWorker, { id: number }>;
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
function request<T>(m: WithoutId<Request>): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    post({ ...m, id } as ToWorker);
  });
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  if (m.type === 'reply') {
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.ok) p?.resolve(m.value);
    else p?.reject(new Error(m.message));
    return;
  }
  if (view == null) return;
  if (m.type === 'start') view.start = m;
  else if (m.type === 'step') view.steps.push(m);
  else if (m.type === 'done') view.result = m.result;
  if (m.type === 'done' || m.type === 'error') {
    $<HTMLButtonElement>('start').disabled = false;
    $<HTMLButtonElement>('stop').disabled = true;
  }
  if (m.type === 'error') {
    state('error');
    $('status').textContent = `error: ${m.message}`;
    failed?.(new Error(m.message));
    return;
  }
  render();
  if (m.type === 'done') {
    state('done');
    finished?.(m.result);
  }
};

/**
 * Test hook: what the browser test (and a curious user in the console) can call.
 * `run` drives the page's own form; `hypergradient` computes one ∇F(θ) in the worker.
 */
const hook = {
  samples: Object.keys(samples),
  /** Sets the form (any subset of the config, plus sample and backend), presses Learn, resolves with the result. */
  run(settings: Partial<PlaygroundConfig> & { sample?: string; backend?: BackendChoice } = {}): Promise<PlaygroundResult> {
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
  decodeSample: (name: string) => request<GrayImage>({ type: 'decode', source: { kind: 'url', url: samples[name] } }).then((g) => ({ width: g.width, height: g.height, values: Array.from(g.values) })),
  /** ∇F(θ) of a sample's crop (θ₀ of the model when `theta` is absent). */
  hypergradient: (config: Partial<PlaygroundConfig>, sample: string, theta: ParamsArrays | undefined, tol: number, backend: BackendChoice = 'wasm') =>
    request<HypergradientReport>({ type: 'hypergradient', config, source: { kind: 'url', url: samples[sample] }, theta, tol, backend }),
  last: () => view,
  /** Every resource URL the page and the worker fetched (Resource Timing), for the same-origin check. */
  resources: async () => [...performance.getEntriesByType('resource').map((e) => e.name), ...(await request<string[]>({ type: 'resources' }))],
};
(window as unknown as { __bilevel: typeof hook }).__bilevel = hook;

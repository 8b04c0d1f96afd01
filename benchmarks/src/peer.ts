/**
 * bench:peer — bilevel (tfjs-wasm) against PyTorch and JAX on identical inputs, every side
 * pinned to its own core (`taskset`: this process on CPU 0, the peer on CPU 1) and checked at
 * ~1.00 core per call (process CPU time / wall time), in one run:
 *
 * 1. primitives of the FoE energy (96×96, 30 filters 7×7, batch 1 and 8): gradient, HVP
 *    (one-shot, and per CG iteration with the Hessian prepared at x), mixed product; ours
 *    "before" (autodiff, tfjs's stock kernels) and "now" (analytic derivatives + bilevel's wasm
 *    kernels);
 * 2. one implicit hypergradient at identical work (100 GD + 30 CG + mixed);
 * 3. a short training run (smoothed TV and FoE, Adam on θ) on the same crops from the same θ₀.
 *
 * Results are cross-checked: the largest difference relative to the peer's largest entry.
 * Method and table: benchmarks/README.md.
 *
 *   npx --yes pnpm@9 bench:peer                 # creates benchmarks/.bench/venv (PyTorch, JAX) once
 *   BENCH_BATCHES=1 BENCH_REPEATS=10 npx --yes pnpm@9 bench:peer
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, initBackend, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { BATCHES, REPEATS, SIZE, FILTERS, KERNEL, GD_STEPS, CG_STEPS, foe, tv, foeInputs, crops, foeStep, tvStep, arrays, treeArrays } from './peer/workloads.js';
import { time, settle, identicalWork, adam, lossOf, type Timing } from './peer/ours.js';
import { runPeers, relDiff, root, type PeerResult } from './peer/peers.js';

const HG_REPEATS = Number(process.env.BENCH_HG_REPEATS ?? 5);
const TRAIN_REPEATS = Number(process.env.BENCH_TRAIN_REPEATS ?? 3);
const TRAIN = [
  { model: 'tv' as const, count: 4, size: 64, outer: 10, lr: 0.1 },
  { model: 'foe' as const, count: 2, size: 64, outer: 5, lr: 0.002 },
];

type Ops = Record<string, Timing & { out: Float32Array[] }>;

/** Our primitives with the current setting of wasmKernels and derivatives. */
function primitives(derivatives: boolean, c: ReturnType<typeof foeInputs>): Ops {
  const { problem, dispose } = foe(derivatives);
  const data = { y: c.y };
  const read = (ts: tf.Tensor[]) => ts.map((t) => t.dataSync().slice() as Float32Array);
  const run = (fn: () => tf.Tensor[]) => {
    const r = time(fn, REPEATS, settle);
    const out = read(r.out);
    tf.dispose(r.out);
    return { ms: r.ms, cores: r.cores, out };
  };
  const keys = Object.keys(c.theta);
  const hessian = problem.hessianAt(c.clean, c.theta, data);
  const ops: Ops = {
    gradient: run(() => [problem.gradient(c.clean, c.theta, data)]),
    hvp: run(() => [problem.hvp(c.clean, c.theta, data, c.v)]),
    'hvp in CG': run(() => [hessian.apply(c.v)]),
    mixed: run(() => {
      const m = problem.mixed(c.clean, c.theta, data, c.v);
      return keys.map((k) => m[k]);
    }),
  };
  hessian.dispose();
  dispose();
  return ops;
}

function fmt(ms: number | undefined): string {
  if (ms == null) return '–';
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(2);
}

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm', log: false });
  const dir = join(root, '.bench');
  mkdirSync(dir, { recursive: true });
  const cases = BATCHES.map((batch) => ({ batch, ...foeInputs(batch, SIZE) }));
  const hg = foeInputs(1, SIZE);
  const hgStep = foeStep(hg.theta, hg.y.shape);
  const runs = TRAIN.map((t) => {
    const d = crops(t.count, t.size, 7);
    // θ₀: TV's defaults; for the FoE the primitives' seeded filters with α = e⁻³ (a denoiser rather than a flattener; a weaker one makes H ≈ I and 30 CG steps underflow)
    const built = t.model === 'tv' ? tv(true) : foe(true);
    let theta: Params = Object.fromEntries(Object.entries(built.theta).map(([k, v]) => [k, v.clone()]));
    disposeParams(built.theta); // the problem stays usable; its dispose() skips what is freed
    if (t.model === 'foe') {
      disposeParams(theta);
      built.dispose();
      const seeded = foeInputs(1, 8);
      tf.dispose([seeded.clean, seeded.y, seeded.v, seeded.theta.logAlpha]);
      // zero-mean filters: blind to the mean brightness, as in Roth & Black
      const filters = tf.tidy(() => tf.sub(seeded.theta.filters, tf.mean(seeded.theta.filters, [0, 1, 2], true)));
      tf.dispose([seeded.theta.filters]);
      theta = { filters, logNu: seeded.theta.logNu, logAlpha: tf.fill([FILTERS], -3) };
    }
    // half the stable step: θ moves during training (ν shrinking raises the curvature bound 2/ν²)
    const step = t.model === 'foe' ? foeStep(theta, d.y.shape) / 2 : 0;
    return { ...t, ...d, theta, step, built };
  });
  const spec = {
    repeats: REPEATS,
    primitives: cases.map((c) => ({ batch: c.batch, x: arrays(c.clean), y: arrays(c.y), v: arrays(c.v), theta: treeArrays(c.theta) })),
    hypergradient: { y: arrays(hg.y), clean: arrays(hg.clean), theta: treeArrays(hg.theta), step: hgStep, gdSteps: GD_STEPS, cgSteps: CG_STEPS, repeats: HG_REPEATS },
    training: runs.map((r) => ({ model: r.model, y: arrays(r.y), clean: arrays(r.clean), theta: treeArrays(r.theta), step: r.step, lr: r.lr, outer: r.outer, gdSteps: GD_STEPS, cgSteps: CG_STEPS, repeats: TRAIN_REPEATS })),
  };
  const input = join(dir, 'peer-input.json');
  writeFileSync(input, JSON.stringify(spec));
  const peers = runPeers(input, dir);

  // ours: before (autodiff, stock kernels) and now (analytic derivatives + bilevel's kernels)
  const before = tf.memory().numTensors;
  const ours: Array<{ batch: number; before: Ops; now: Ops }> = [];
  for (const c of cases) {
    await initBackend({ backend: 'wasm', log: false, wasmKernels: false });
    const b = primitives(false, c);
    await initBackend({ backend: 'wasm', log: false });
    ours.push({ batch: c.batch, before: b, now: primitives(true, c) });
  }
  const hypergradients: Record<string, Timing & { grad: Params; value: number; work: string }> = {};
  for (const [name, derivatives, kernels] of [['before', false, false], ['now', true, true]] as const) {
    await initBackend({ backend: 'wasm', log: false, wasmKernels: kernels });
    const { problem, dispose } = foe(derivatives);
    const r = time(() => identicalWork(problem, hg.theta, hg.y, hg.clean, hgStep), name === 'before' ? Math.min(HG_REPEATS, 3) : HG_REPEATS, (h) => h.dispose());
    const grad = Object.fromEntries(Object.entries(r.out.grad).map(([k, t]) => [k, t.clone()]));
    hypergradients[name] = { ms: r.ms, cores: r.cores, grad, value: r.out.value, work: `${r.out.work.innerIterations} GD + ${r.out.work.linearIterations} CG` };
    r.out.dispose();
    dispose();
  }
  await initBackend({ backend: 'wasm', log: false });
  const training = runs.map((run) => {
    const built = run.model === 'tv' ? run.built : foe(true);
    const p = built.problem;
    const r = time(() => {
      let theta: Params = Object.fromEntries(Object.entries(run.theta).map(([k, t]) => [k, t.clone()]));
      const step = adam(run.lr);
      const losses: number[] = [];
      for (let i = 0; i < run.outer; i++) {
        const s = run.model === 'tv' ? tvStep(theta) : run.step;
        const h = identicalWork(p, theta, run.y, run.clean, s);
        losses.push(h.value);
        const next = step(theta, h.grad);
        h.dispose();
        if (i === 0 && (h.work.innerIterations !== GD_STEPS || h.work.linearIterations !== CG_STEPS)) {
          throw new Error(`bench:peer: the ${run.model} hypergradient did ${h.work.innerIterations} GD + ${h.work.linearIterations} CG steps, not ${GD_STEPS} + ${CG_STEPS}`);
        }
        disposeParams(theta);
        theta = next;
      }
      step.dispose();
      return { theta, losses };
    }, TRAIN_REPEATS, (o) => disposeParams(o.theta));
    built.dispose();
    return { model: run.model, ms: r.ms, cores: r.cores, losses: r.out.losses, theta: r.out.theta };
  });
  report(ours, hypergradients, training, peers);
  for (const t of training) disposeParams(t.theta);
  for (const h of Object.values(hypergradients)) disposeParams(h.grad);
  if (tf.memory().numTensors !== before) console.warn(`bench:peer: ${tf.memory().numTensors - before} tensors not freed by the measured code`);
  for (const run of runs) {
    tf.dispose([run.clean, run.y]);
    disposeParams(run.theta);
  }
  for (const c of [...cases, hg]) {
    tf.dispose([c.clean, c.y, c.v]);
    disposeParams(c.theta);
  }
}

function report(
  ours: Array<{ batch: number; before: Ops; now: Ops }>,
  hypergradients: Record<string, Timing & { grad: Params; value: number; work: string }>,
  training: Array<{ model: string; ms: number; cores: number; losses: number[]; theta: Params }>,
  peers: PeerResult[],
): void {
  const one = peers.filter((p) => p.threads === 1);
  const two = peers.find((p) => p.threads === 2);
  const torch = one.find((p) => p.framework === 'PyTorch');
  console.log(`\nFoE ${SIZE}×${SIZE}, ${FILTERS} filters ${KERNEL}×${KERNEL}, median of ${REPEATS} calls; bilevel tfjs ${tf.version.tfjs} wasm on CPU 0, peers on CPU 1 (1 thread) or CPUs 0–1 (2 threads)`);
  console.log(`| batch | op | ours before ms | ours now ms | ${one.map((p) => `${p.framework} ms`).join(' | ')}${two ? ` | ${two.framework} 2 thr ms` : ''} | now/PyTorch wall | now/PyTorch CPU | cores ours/${one.map((p) => p.framework).join('/')} | max rel. diff vs ${one.map((p) => p.framework).join(' / ')} |`);
  console.log(`| --- | --- | --- | --- | ${one.map(() => '---').join(' | ')}${two ? ' | ---' : ''} | --- | --- | --- | --- |`);
  for (const o of ours) {
    for (const op of Object.keys(o.now)) {
      const peerOp = op === 'hvp in CG' ? 'hvp' : op;
      const outputs = (p: PeerResult) => {
        const r = p.primitives.find((q) => q.batch === o.batch)!;
        if (op === 'mixed') return ['filters', 'logAlpha', 'logNu'].map((k) => r.outputs[`mixed.${k}`]);
        return [r.outputs[peerOp]];
      };
      const ms = (p: PeerResult | undefined) => p?.primitives.find((q) => q.batch === o.batch)?.ms[peerOp];
      const cores = (p: PeerResult) => p.primitives.find((q) => q.batch === o.batch)!.cores[peerOp];
      const diff = one.map((p) => Math.max(...outputs(p).map((b, i) => relDiff(o.now[op].out[i], b))).toExponential(1));
      const ratio = torch ? `${(o.now[op].ms / ms(torch)!).toFixed(2)} | ${((o.now[op].ms * o.now[op].cores) / (ms(torch)! * cores(torch))).toFixed(2)}` : '– | –';
      console.log(`| ${o.batch} | ${op} | ${fmt(o.before[op].ms)} | ${fmt(o.now[op].ms)} | ${one.map((p) => fmt(ms(p))).join(' | ')}${two ? ` | ${fmt(ms(two))}` : ''} | ${ratio} | ${[o.now[op].cores, ...one.map(cores)].map((c) => c.toFixed(2)).join('/')} | ${diff.join(' / ')} |`);
    }
    console.log(`  batch ${o.batch}: HVP / gradient (ours now) = ${(o.now.hvp.ms / o.now.gradient.ms).toFixed(2)} one-shot, ${(o.now['hvp in CG'].ms / o.now.gradient.ms).toFixed(2)} per CG iteration`);
  }
  const keys = Object.keys(hypergradients.now.grad);
  const hgDiff = (p: PeerResult) => Math.max(...keys.map((k) => relDiff(hypergradients.now.grad[k].dataSync(), p.hypergradient!.grad[k]))).toExponential(1);
  console.log(`\nOne implicit hypergradient at identical work (${hypergradients.now.work}, + mixed; batch 1, ${SIZE}×${SIZE}), median of ${HG_REPEATS}:`);
  console.log(`| ours before ms | ours now ms | ${one.map((p) => `${p.framework} ms`).join(' | ')}${two ? ` | ${two.framework} 2 thr ms` : ''} | now/PyTorch wall | now/PyTorch CPU | cores ours/${one.map((p) => p.framework).join('/')} | max rel. diff vs ${one.map((p) => p.framework).join(' / ')} |`);
  console.log(`| --- | --- | ${one.map(() => '---').join(' | ')}${two ? ' | ---' : ''} | --- | --- | --- | --- |`);
  console.log(`| ${fmt(hypergradients.before.ms)} | ${fmt(hypergradients.now.ms)} | ${one.map((p) => fmt(p.hypergradient?.ms)).join(' | ')}${two ? ` | ${fmt(two.hypergradient?.ms)}` : ''} | ${torch ? `${(hypergradients.now.ms / torch.hypergradient!.ms).toFixed(2)} | ${((hypergradients.now.ms * hypergradients.now.cores) / (torch.hypergradient!.ms * torch.hypergradient!.cores)).toFixed(2)}` : '– | –'} | ${[hypergradients.now.cores, ...one.map((p) => p.hypergradient!.cores)].map((c) => c.toFixed(2)).join('/')} | ${one.map(hgDiff).join(' / ')} |`);
  console.log(`  before vs now: max rel. diff ${Math.max(...keys.map((k) => relDiff(hypergradients.before.grad[k].dataSync(), hypergradients.now.grad[k].dataSync()))).toExponential(1)}`);
  console.log('\nShort training runs (Adam on θ, identical-work hypergradients, same crops and θ₀), median of', TRAIN_REPEATS);
  console.log(`| model | outer steps | ours ms | ${one.map((p) => `${p.framework} ms`).join(' | ')} | ours/PyTorch wall | ours/PyTorch CPU | cores ours/${one.map((p) => p.framework).join('/')} | final loss ours / ${one.map((p) => p.framework).join(' / ')} | max rel. diff of θ vs ${one.map((p) => p.framework).join(' / ')} |`);
  console.log(`| --- | --- | --- | ${one.map(() => '---').join(' | ')} | --- | --- | --- | --- | --- |`);
  for (const t of training) {
    const peer = (p: PeerResult) => p.training.find((q) => q.model === t.model)!;
    const last = (l: number[]) => l[l.length - 1].toPrecision(6);
    const thetaDiff = (p: PeerResult) => Math.max(...Object.keys(t.theta).map((k) => relDiff(t.theta[k].dataSync(), peer(p).theta[k]))).toExponential(1);
    console.log(`| ${t.model} | ${t.losses.length} | ${fmt(t.ms)} | ${one.map((p) => fmt(peer(p).ms)).join(' | ')} | ${torch ? `${(t.ms / peer(torch).ms).toFixed(2)} | ${((t.ms * t.cores) / (peer(torch).ms * peer(torch).cores)).toFixed(2)}` : '– | –'} | ${[t.cores, ...one.map((p) => peer(p).cores)].map((c) => c.toFixed(2)).join('/')} | ${[last(t.losses), ...one.map((p) => last(peer(p).losses))].join(' / ')} | ${one.map(thetaDiff).join(' / ')} |`);
  }
  console.log('\n(the machine is shared: other jobs ran on both cores while this was measured; "cores" below 1.00 is time a');
  console.log('1-thread process was preempted, and the CPU ratio, CPU time per call = wall × cores, removes it)');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

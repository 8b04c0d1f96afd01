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
 * Ours and the peers are timed INTERLEAVED: the peers are long-lived workers, and in each of R
 * rounds every side runs one block of calls of the same job (src/peer/rounds.ts); a ratio is the
 * median over rounds of the per-round ratio, so host drift between minutes cancels.
 * Results are cross-checked: the largest difference relative to the peer's largest entry.
 * Method and table: benchmarks/README.md.
 *
 *   npx --yes pnpm@9 bench:peer                 # creates benchmarks/.bench/venv (PyTorch, JAX) once
 *   BENCH_BATCHES=1 BENCH_ROUNDS=5 BENCH_REPEATS=3 BENCH_HG_REPEATS=3 BENCH_TRAIN_REPEATS=1 npx --yes pnpm@9 bench:peer
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tf, initBackend, disposeParams } from '@bilevel/core';
import type { Params } from '@bilevel/core';
import { BATCHES, ROUNDS, REPEATS, SIZE, FILTERS, GD_STEPS, CG_STEPS, foe, tv, foeInputs, crops, foeStep, tvStep, arrays, treeArrays } from './peer/workloads.js';
import { block, settle, identicalWork, adam, primitiveCalls, OPS, type Op } from './peer/ours.js';
import { startPeers, root, type PeerWorker } from './peer/peers.js';
import { interleave, type Interleaved } from './peer/interleave.js';
import { summarizeSide, type SideSummary } from './peer/rounds.js';
import { report, type Row } from './peer/report.js';
import { ownRatios } from './peer/own-ratios.js';

const HG_REPEATS = Number(process.env.BENCH_HG_REPEATS ?? 5);
/** Rounds and calls per block of ours-against-ours (HVP / gradient, src/peer/own-ratios.ts). */
const RATIO_ROUNDS = Number(process.env.BENCH_RATIO_ROUNDS ?? 9);
const RATIO_REPEATS = Number(process.env.BENCH_RATIO_REPEATS ?? 5);
const TRAIN_REPEATS = Number(process.env.BENCH_TRAIN_REPEATS ?? 3);
const TRAIN = [
  { model: 'tv' as const, count: 4, size: 64, outer: 10, lr: 0.1 },
  { model: 'foe' as const, count: 2, size: 64, outer: 5, lr: 0.002 },
];
type Case = ReturnType<typeof foeInputs> & { batch: number };

const read = (ts: tf.Tensor[]) => ts.map((t) => t.dataSync().slice() as Float32Array);

/** Our primitives for one case, with the current setting of wasmKernels and derivatives. */
function primitives(derivatives: boolean, c: Case) {
  const { problem, dispose } = foe(derivatives);
  const { calls, hessian } = primitiveCalls(problem, c);
  return { calls, dispose: () => { hessian.dispose(); dispose(); } };
}

/** Ours alone (the "before" column: a reference, not interleaved): `reps` calls after a warm-up, whose result comes back (primitives: min(20, R·N) calls, as before the rounds). */
function alone<T>(fn: () => T, reps: number, done: (out: T) => void): SideSummary & { out: T } {
  const out = fn();
  return { ...summarizeSide([block(fn, reps, done)]), out };
}

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm', log: false });
  const dir = join(root, '.bench');
  mkdirSync(dir, { recursive: true });
  const cases: Case[] = BATCHES.map((batch) => ({ batch, ...foeInputs(batch, SIZE) }));
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
    primitives: cases.map((c) => ({ batch: c.batch, x: arrays(c.clean), y: arrays(c.y), v: arrays(c.v), theta: treeArrays(c.theta) })),
    hypergradient: { y: arrays(hg.y), clean: arrays(hg.clean), theta: treeArrays(hg.theta), step: hgStep, gdSteps: GD_STEPS, cgSteps: CG_STEPS },
    training: runs.map((r) => ({ model: r.model, y: arrays(r.y), clean: arrays(r.clean), theta: treeArrays(r.theta), step: r.step, lr: r.lr, outer: r.outer, gdSteps: GD_STEPS, cgSteps: CG_STEPS })),
  };
  const input = join(dir, 'peer-input.json');
  const twoInput = join(dir, 'peer-input-2.json');
  writeFileSync(input, JSON.stringify(spec));
  writeFileSync(twoInput, JSON.stringify({ ...spec, training: [] }));
  const workers = await startPeers(input, twoInput);
  const oneThread = workers.filter((w) => w.threads === 1);
  try {
    const before = tf.memory().numTensors;
    // ours before (autodiff, stock kernels): a reference column, timed alone
    await initBackend({ backend: 'wasm', log: false, wasmKernels: false });
    const oursBefore = cases.map((c) => {
      const p = primitives(false, c);
      const r = Object.fromEntries(OPS.map((op) => {
        const a = alone(p.calls[op], Math.min(20, ROUNDS * REPEATS), settle);
        settle(a.out);
        return [op, a];
      })) as unknown as Record<Op, SideSummary>;
      p.dispose();
      return r;
    });
    const foeBefore = foe(false);
    const hgBefore = alone(() => identicalWork(foeBefore.problem, hg.theta, hg.y, hg.clean, hgStep), Math.min(HG_REPEATS, 3), (h) => h.dispose());
    const hgBeforeGrad = Object.fromEntries(Object.entries(hgBefore.out.grad).map(([k, t]) => [k, t.dataSync().slice() as Float32Array]));
    hgBefore.out.dispose();
    foeBefore.dispose();
    // now (analytic derivatives + bilevel's kernels), interleaved with every peer
    await initBackend({ backend: 'wasm', log: false });
    const rows: Row[] = [];
    for (const [i, c] of cases.entries()) {
      const p = primitives(true, c);
      for (const op of OPS) {
        const job = `b${c.batch}.${op === 'hvp in CG' ? 'hvp' : op}`;
        const r = await interleave({ run: p.calls[op], done: settle }, workers.map((worker) => ({ worker, job })), ROUNDS, REPEATS);
        const out = read(r.out);
        tf.dispose(r.out);
        rows.push({ kind: 'primitive', batch: c.batch, op, before: oursBefore[i][op], measured: r, ours: out });
      }
      // the peers idle meanwhile
      rows.push({ kind: 'own', batch: c.batch, ratios: await ownRatios(p.calls, RATIO_ROUNDS, RATIO_REPEATS) });
      p.dispose();
    }
    const foeNow = foe(true);
    const hgNow = await interleave({ run: () => identicalWork(foeNow.problem, hg.theta, hg.y, hg.clean, hgStep), done: (h) => h.dispose() }, workers.map((worker) => ({ worker, job: 'hypergradient' })), HG_REPEATS, 1);
    const hgGrad = Object.fromEntries(Object.entries(hgNow.out.grad).map(([k, t]) => [k, t.dataSync().slice() as Float32Array]));
    const work = `${hgNow.out.work.innerIterations} GD + ${hgNow.out.work.linearIterations} CG`;
    hgNow.out.dispose();
    foeNow.dispose();
    rows.push({ kind: 'hypergradient', work, before: hgBefore, beforeGrad: hgBeforeGrad, measured: hgNow, grad: hgGrad });
    for (const run of runs) {
      const built = run.model === 'tv' ? run.built : foe(true);
      const train = () => {
        let theta: Params = Object.fromEntries(Object.entries(run.theta).map(([k, t]) => [k, t.clone()]));
        const step = adam(run.lr);
        const losses: number[] = [];
        for (let i = 0; i < run.outer; i++) {
          const s = run.model === 'tv' ? tvStep(theta) : run.step;
          const h = identicalWork(built.problem, theta, run.y, run.clean, s);
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
      };
      const r: Interleaved<{ theta: Params; losses: number[] }> = await interleave({ run: train, done: (o) => disposeParams(o.theta) }, oneThread.map((worker) => ({ worker, job: `train.${run.model}` })), TRAIN_REPEATS, 1);
      const theta = Object.fromEntries(Object.entries(r.out.theta).map(([k, t]) => [k, t.dataSync().slice() as Float32Array]));
      disposeParams(r.out.theta);
      built.dispose();
      rows.push({ kind: 'training', model: run.model, measured: r, losses: r.out.losses, theta });
    }
    report(rows, { tfjs: tf.version.tfjs, rounds: ROUNDS, reps: REPEATS, ratioRounds: RATIO_ROUNDS, ratioReps: RATIO_REPEATS, hgRounds: HG_REPEATS, trainRounds: TRAIN_REPEATS });
    if (tf.memory().numTensors !== before) console.warn(`bench:peer: ${tf.memory().numTensors - before} tensors not freed by the measured code`);
  } finally {
    await Promise.all(workers.map((w: PeerWorker) => w.close()));
  }
  for (const run of runs) {
    tf.dispose([run.clean, run.y]);
    disposeParams(run.theta);
  }
  for (const c of [...cases, hg]) {
    tf.dispose([c.clean, c.y, c.v]);
    disposeParams(c.theta);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

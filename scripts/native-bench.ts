// Native (`tensorflow`, assembled by scripts/native-backend.sh) vs wasm vs PyTorch, in one run on
// identical inputs: the workloads of bench:peer (benchmarks/src/peer/workloads.ts), the
// Fields-of-Experts energy 96×96, 30 filters 7×7 through `foeProblem`'s analytic derivatives,
// batch 1 and 8: gradient, HVP one-shot, HVP in CG (the Hessian prepared at x), mixed product,
// and one implicit hypergradient at identical work (100 GD + 30 CG + mixed, batch 1).
// This process (both tfjs backends, switched per block) runs on CPU 0, the PyTorch peer
// (1 thread) on CPU 1; in each of R rounds every side runs one block of N calls, the order
// alternating (benchmarks/src/peer/rounds.ts), and a ratio is the median over rounds of the
// per-round ratio of CPU time per call (process.cpuUsage / time.process_time), with its range.
// Outputs are cross-checked: the largest difference relative to the other side's largest entry.
//   bash scripts/native-backend.sh && bash benchmarks/peer/setup.sh
//   taskset -c 0 npx tsx --conditions=@bilevel/source scripts/native-bench.ts
//   BENCH_BATCHES=1 BENCH_ROUNDS=5 BENCH_REPEATS=3 BENCH_HG_REPEATS=3 …   (bench:peer's knobs)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { tf, initBackend, disposeParams } from '../packages/core/src/index.ts';
import { BATCHES, ROUNDS, REPEATS, SIZE, FILTERS, KERNEL, GD_STEPS, CG_STEPS, foe, foeInputs, foeStep, arrays, treeArrays } from '../benchmarks/src/peer/workloads.ts';
import { block, settle, identicalWork, primitiveCalls, OPS } from '../benchmarks/src/peer/ours.ts';
import { startPeers, relDiff, root } from '../benchmarks/src/peer/peers.ts';
import { alternate, ratioOfRounds, summarizeSide, type Block, type Side } from '../benchmarks/src/peer/rounds.ts';

const HG_REPEATS = Number(process.env.BENCH_HG_REPEATS ?? 5);
const BACKENDS = ['wasm', 'tensorflow'] as const;
type Backend = (typeof BACKENDS)[number];
const MIXED = ['filters', 'logAlpha', 'logNu'];

/** Every tensor of one backend's side: the inputs (seeded, so equal on both), the problem, the prepared Hessians. */
function sideOf(backend: Backend, step: number) {
  const cases = BATCHES.map((batch) => ({ batch, ...foeInputs(batch, SIZE) }));
  const hg = foeInputs(1, SIZE);
  const built = foe(true);
  const { problem } = built;
  const calls = cases.map((c) => {
    const { calls: op, hessian } = primitiveCalls(problem, c);
    return { op, hessian };
  });
  const hypergradient = () => identicalWork(problem, hg.theta, hg.y, hg.clean, step);
  const dispose = () => {
    for (const c of calls) c.hessian.dispose();
    built.dispose();
    for (const c of [...cases, hg]) {
      tf.dispose([c.clean, c.y, c.v]);
      disposeParams(c.theta);
    }
  };
  return { backend, cases, hg, calls, hypergradient, dispose };
}

const use = (backend: Backend) => initBackend({ backend, log: false });
const read = (ts: tf.Tensor[]) => ts.map((t) => t.dataSync().slice() as Float32Array);
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(2));
const cpu = (blocks: Block[]) => summarizeSide(blocks);
const ratio = (a: Block[], b: Block[]) => {
  const r = ratioOfRounds(a, b);
  return `${r.cpu.toFixed(2)} (${r.cpuMin.toFixed(2)}–${r.cpuMax.toFixed(2)})`;
};

async function main(): Promise<void> {
  await use('tensorflow').catch((e: Error) => {
    throw new Error(`native-bench: ${e.message}\n(assemble and link it first: bash scripts/native-backend.sh)`);
  });
  await use('wasm');
  if (!existsSync(join(root, '.bench', 'venv', 'bin', 'python'))) throw new Error('native-bench: no PyTorch peer (benchmarks/.bench/venv); create it with: bash benchmarks/peer/setup.sh');
  const commit = (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    } catch {
      return '?';
    }
  })();
  const load0 = loadavg();
  const hgInputs = foeInputs(1, SIZE);
  const step = foeStep(hgInputs.theta, hgInputs.y.shape); // on wasm; the same number on every side
  tf.dispose([hgInputs.clean, hgInputs.y, hgInputs.v]);
  disposeParams(hgInputs.theta);
  const before = tf.memory().numTensors;
  const sides = {} as Record<Backend, ReturnType<typeof sideOf>>;
  for (const b of BACKENDS) {
    await use(b);
    sides[b] = sideOf(b, step);
  }
  await use('wasm');
  const w = sides.wasm;
  const spec = {
    primitives: w.cases.map((c) => ({ batch: c.batch, x: arrays(c.clean), y: arrays(c.y), v: arrays(c.v), theta: treeArrays(c.theta) })),
    hypergradient: { y: arrays(w.hg.y), clean: arrays(w.hg.clean), theta: treeArrays(w.hg.theta), step, gdSteps: GD_STEPS, cgSteps: CG_STEPS },
    training: [],
  };
  // the inputs are seeded tfjs random tensors, generated in JS: equal on both backends, bit for bit
  await use('tensorflow');
  const inputsOf = (s: typeof w) => [...s.cases, s.hg].flatMap((c) => [c.clean, c.y, c.v, ...Object.values(c.theta)]);
  const [iw, it] = [inputsOf(w), inputsOf(sides.tensorflow)];
  if (!iw.every((t, k) => relDiff(it[k].dataSync(), t.dataSync()) === 0)) throw new Error('native-bench: the two backends do not hold the same inputs');
  await use('wasm');
  const dir = join(root, '.bench');
  mkdirSync(dir, { recursive: true });
  const input = join(dir, 'native-input.json');
  writeFileSync(input, JSON.stringify(spec));
  const [torch] = await startPeers(input, input, ['PyTorch']);
  const ours = (b: Backend, run: () => tf.Tensor[]): Side => ({
    block: async (n) => {
      await use(b);
      return block(run, n, settle);
    },
  });
  const peer = (job: string): Side => ({ block: async (n) => { const r = await torch.block(job, n); return { ms: r.ms, cpuMs: r.cpuMs }; } });
  const rows: string[] = [];
  try {
    for (const [i, c] of w.cases.entries()) {
      for (const op of OPS) {
        const job = `b${c.batch}.${op === 'hvp in CG' ? 'hvp' : op}`;
        const out: Partial<Record<Backend, Float32Array[]>> = {};
        for (const b of BACKENDS) {
          await use(b);
          const r = sides[b].calls[i].op[op]();
          out[b] = read(r);
          tf.dispose(r);
        }
        const theirs = (await torch.block(job, 0, { output: true }).then((r) => r.output ?? {})) as Record<string, number[]>;
        const pt = op === 'mixed' ? MIXED.map((k) => theirs[`mixed.${k}`]) : [theirs[op === 'hvp in CG' ? 'hvp' : op]];
        const [bw, bn, bp] = await alternate([ours('wasm', sides.wasm.calls[i].op[op]), ours('tensorflow', sides.tensorflow.calls[i].op[op]), peer(job)], ROUNDS, REPEATS);
        const diff = (a: ArrayLike<number>[], b: ArrayLike<number>[]) => Math.max(...a.map((x, k) => relDiff(x, b[k]))).toExponential(1);
        rows.push(row(`${c.batch} | ${op}`, bw, bn, bp, [diff(out.tensorflow!, out.wasm!), diff(out.tensorflow!, pt), diff(out.wasm!, pt)]));
      }
    }
    const grads: Partial<Record<Backend, Record<string, Float32Array>>> = {};
    const work: string[] = [];
    for (const b of BACKENDS) {
      await use(b);
      const h = sides[b].hypergradient();
      work.push(`${b} ${h.work.innerIterations} GD + ${h.work.linearIterations} CG`);
      if (h.work.innerIterations !== GD_STEPS || h.work.linearIterations !== CG_STEPS) throw new Error(`native-bench: ${work[work.length - 1]}, not ${GD_STEPS} + ${CG_STEPS}`);
      grads[b] = Object.fromEntries(Object.entries(h.grad).map(([k, t]) => [k, t.dataSync().slice() as Float32Array]));
      h.dispose();
    }
    const theirs = ((await torch.block('hypergradient', 0, { output: true })).output as { grad: Record<string, number[]> }).grad;
    const keys = Object.keys(grads.wasm!);
    const diff = (a: Record<string, ArrayLike<number>>, b: Record<string, ArrayLike<number>>) => Math.max(...keys.map((k) => relDiff(a[k], b[k]))).toExponential(1);
    const hgSide = (b: Backend): Side => ({
      block: async (n) => {
        await use(b);
        return block(sides[b].hypergradient, n, (h) => h.dispose());
      },
    });
    const [hw, hn, hp] = await alternate([hgSide('wasm'), hgSide('tensorflow'), peer('hypergradient')], HG_REPEATS, 1);
    rows.push(row(`1 | hypergradient`, hw, hn, hp, [diff(grads.tensorflow!, grads.wasm!), diff(grads.tensorflow!, theirs), diff(grads.wasm!, theirs)]));
    await use('wasm');
    for (const b of BACKENDS) sides[b].dispose();
    const leaked = tf.memory().numTensors - before;
    const load1 = loadavg();
    console.log(`\nFoE ${SIZE}×${SIZE}, ${FILTERS} filters ${KERNEL}×${KERNEL}, foeProblem's analytic derivatives; at ${commit}, tfjs ${tf.version.tfjs} (wasm and tensorflow in this process on CPU 0), ${torch.framework} ${torch.version} 1 thread on CPU 1`);
    console.log(`primitives: ${ROUNDS} interleaved rounds of ${REPEATS} calls per side; hypergradient (${GD_STEPS} GD + ${CG_STEPS} CG + mixed, batch 1): ${HG_REPEATS} rounds of 1 call. CPU ms per call (median of all calls), ratios: median over rounds of the per-round CPU ratio (range)`);
    console.log('| batch | op | wasm CPU ms | native CPU ms | PyTorch CPU ms | wasm / native | native / PyTorch | wasm / PyTorch | cores w/n/p | wall ms w/n/p | rel. diff n–w / n–p / w–p |');
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const r of rows) console.log(r);
    console.log(`load average ${load0.map((l) => l.toFixed(2)).join(' ')} at the start, ${load1.map((l) => l.toFixed(2)).join(' ')} at the end (2 cores shared); ${leaked === 0 ? 'no tensors left over' : `${leaked} tensors not freed`}`);
  } finally {
    await torch.close();
  }
}

function row(first: string, w: Block[], n: Block[], p: Block[], diffs: string[]): string {
  const [sw, sn, sp] = [w, n, p].map(cpu);
  return `| ${first} | ${fmt(sw.cpuMs)} | ${fmt(sn.cpuMs)} | ${fmt(sp.cpuMs)} | ${ratio(w, n)} | ${ratio(n, p)} | ${ratio(w, p)} | ${[sw, sn, sp].map((s) => s.cores.toFixed(2)).join('/')} | ${[sw, sn, sp].map((s) => fmt(s.ms)).join(' / ')} | ${diffs.join(' / ')} |`;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * The tables of bench:peer: per side the median ms of every call pooled over the rounds and the
 * cores per call (CPU / wall, median over blocks); against PyTorch (1 thread) the median over
 * rounds of the per-round ratio (rounds.ts), wall and CPU, with the range of the wall ratios;
 * the cross-check as the largest difference relative to the peer's largest entry.
 */
import { SIZE, FILTERS, KERNEL } from './workloads.js';
import { relDiff } from './peers.js';
import { ratioOfRounds, summarizeSide, type SideSummary } from './rounds.js';
import type { Interleaved } from './interleave.js';
import type { OwnRatios } from './own-ratios.js';

type Arrays = Record<string, Float32Array>;
export type Row =
  | { kind: 'primitive'; batch: number; op: string; before: SideSummary; measured: Interleaved<unknown>; ours: Float32Array[] }
  | { kind: 'hypergradient'; work: string; before: SideSummary; beforeGrad: Arrays; measured: Interleaved<unknown>; grad: Arrays }
  | { kind: 'training'; model: string; measured: Interleaved<unknown>; losses: number[]; theta: Arrays }
  | { kind: 'own'; batch: number; ratios: OwnRatios };

const MIXED = ['filters', 'logAlpha', 'logNu'];

function fmt(ms: number | undefined): string {
  if (ms == null) return '–';
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(2);
}

/** The columns every table shares: ms per side, ratio vs PyTorch 1 thread, cores. */
function sides(m: Interleaved<unknown>) {
  const ours = summarizeSide(m.ours);
  const peers = m.peers.map((p) => ({ label: p.worker.label, threads: p.worker.threads, s: summarizeSide(p.blocks), p }));
  const one = peers.filter((p) => p.threads === 1);
  const torch = one.find((p) => p.label === 'PyTorch');
  const r = torch ? ratioOfRounds(m.ours, torch.p.blocks) : undefined;
  return {
    ours, one, two: peers.find((p) => p.threads === 2),
    ms: [fmt(ours.ms), ...peers.map((p) => fmt(p.s.ms))].join(' | '),
    ratio: r ? `${r.wall.toFixed(2)} (${r.wallMin.toFixed(2)}–${r.wallMax.toFixed(2)}) | ${r.cpu.toFixed(2)}` : '– | –',
    cores: [ours.cores, ...one.map((p) => p.s.cores)].map((c) => c.toFixed(2)).join('/'),
  };
}

function header(first: string[], m: Interleaved<unknown>, extra: string[]): void {
  const labels = m.peers.map((p) => `${p.worker.label} ms`);
  const one = m.peers.filter((p) => p.worker.threads === 1).map((p) => p.worker.label).join('/');
  const cols = [...first, 'ours now ms', ...labels, 'now/PyTorch wall (range)', 'now/PyTorch CPU', `cores ours/${one}`, ...extra];
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`| ${cols.map(() => '---').join(' | ')} |`);
}

/** Prints the three tables. */
export function report(rows: Row[], info: { tfjs: string; rounds: number; reps: number; ratioRounds: number; ratioReps: number; hgRounds: number; trainRounds: number }): void {
  const prims = rows.filter((r): r is Extract<Row, { kind: 'primitive' }> => r.kind === 'primitive');
  if (prims.length > 0) {
    const m0 = prims[0].measured;
    const oneNames = m0.peers.filter((p) => p.worker.threads === 1).map((p) => p.worker.label).join(' / ');
    console.log(`\nFoE ${SIZE}×${SIZE}, ${FILTERS} filters ${KERNEL}×${KERNEL}; ${info.rounds} interleaved rounds of ${info.reps} calls per side (ms: median of all calls; ratio: median over rounds of the per-round ratio); bilevel tfjs ${info.tfjs} wasm on CPU 0, peers on CPU 1 (1 thread) or CPUs 0–1 (2 threads)`);
    header(['batch', 'op', 'ours before ms'], m0, [`max rel. diff vs ${oneNames}`]);
    for (const r of prims) {
      const s = sides(r.measured);
      const peerOp = r.op === 'hvp in CG' ? 'hvp' : r.op;
      const diff = s.one.map(({ p }) => {
        const theirs = peerOp === 'mixed' ? MIXED.map((k) => p.output[`mixed.${k}`]) : [p.output[peerOp]];
        return Math.max(...theirs.map((b, i) => relDiff(r.ours[i], b as number[]))).toExponential(1);
      });
      console.log(`| ${r.batch} | ${r.op} | ${fmt(r.before.ms)} | ${s.ms} | ${s.ratio} | ${s.cores} | ${diff.join(' / ')} |`);
    }
    const own = rows.filter((r): r is Extract<Row, { kind: 'own' }> => r.kind === 'own');
    if (own.length > 0) console.log(`\nHVP / our own gradient, interleaved (gradient, one-shot HVP, one prepared-Hessian product per round; ${info.ratioRounds} rounds of ${info.ratioReps} calls each; median over rounds of the per-round ratio, (range), then the per-round CPU ratios in time order):`);
    for (const { batch, ratios: o } of own) {
      const range = (r: typeof o.hvp) => `CPU ${r.cpu.toFixed(2)} (${r.cpuMin.toFixed(2)}–${r.cpuMax.toFixed(2)}), wall ${r.wall.toFixed(2)} (${r.wallMin.toFixed(2)}–${r.wallMax.toFixed(2)})`;
      const rounds = (r: typeof o.hvp) => r.perRound.cpu.map((x) => x.toFixed(2)).join(' ');
      console.log(`  batch ${batch}: gradient ${fmt(o.ms.gradient)} / HVP ${fmt(o.ms.hvp)} / per CG iteration ${fmt(o.ms['hvp in CG'])} CPU ms; HVP / gradient one-shot ${range(o.hvp)} [${rounds(o.hvp)}]; per CG iteration ${range(o.cg)} [${rounds(o.cg)}]`);
    }
  }
  const hg = rows.find((r): r is Extract<Row, { kind: 'hypergradient' }> => r.kind === 'hypergradient');
  if (hg) {
    const s = sides(hg.measured);
    const keys = Object.keys(hg.grad);
    const diff = s.one.map(({ p }) => Math.max(...keys.map((k) => relDiff(hg.grad[k], (p.output.grad as Record<string, number[]>)[k]))).toExponential(1));
    console.log(`\nOne implicit hypergradient at identical work (${hg.work}, + mixed; batch 1, ${SIZE}×${SIZE}), ${info.hgRounds} interleaved rounds of 1 call:`);
    header(['ours before ms'], hg.measured, [`max rel. diff vs ${s.one.map((p) => p.label).join(' / ')}`]);
    console.log(`| ${fmt(hg.before.ms)} | ${s.ms} | ${s.ratio} | ${s.cores} | ${diff.join(' / ')} |`);
    console.log(`  before vs now: max rel. diff ${Math.max(...keys.map((k) => relDiff(hg.beforeGrad[k], hg.grad[k]))).toExponential(1)}`);
  }
  const training = rows.filter((r): r is Extract<Row, { kind: 'training' }> => r.kind === 'training');
  if (training.length > 0) {
    const names = training[0].measured.peers.map((p) => p.worker.label);
    console.log(`\nShort training runs (Adam on θ, identical-work hypergradients, same crops and θ₀), ${info.trainRounds} interleaved rounds of 1 run:`);
    header(['model', 'outer steps'], training[0].measured, [`final loss ours / ${names.join(' / ')}`, `max rel. diff of θ vs ${names.join(' / ')}`]);
    for (const t of training) {
      const s = sides(t.measured);
      const last = (l: number[]) => l[l.length - 1].toPrecision(6);
      const out = t.measured.peers.map((p) => p.output as { losses: number[]; theta: Record<string, number[]> });
      const thetaDiff = out.map((o) => Math.max(...Object.keys(t.theta).map((k) => relDiff(t.theta[k], o.theta[k]))).toExponential(1));
      console.log(`| ${t.model} | ${t.losses.length} | ${s.ms} | ${s.ratio} | ${s.cores} | ${[last(t.losses), ...out.map((o) => last(o.losses))].join(' / ')} | ${thetaDiff.join(' / ')} |`);
    }
  }
  console.log('\n(the machine is shared: other jobs ran on both cores while this was measured; "cores" below 1.00 is time a');
  console.log('1-thread process was preempted, and the CPU ratio, CPU time per call on both sides, removes it)');
}

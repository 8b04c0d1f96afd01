/**
 * Interleaved timing (the method of rounds.ts): ours and every peer run blocks of the same
 * job round by round, with one warm-up call each first whose results are kept for the
 * cross-check.
 */
import { block } from './ours.js';
import { alternate, type Block } from './rounds.js';
import type { PeerWorker } from './peers.js';

/** Our side of a job: one call, and what to do with its result after timing (free it). */
export interface OursJob<T> { run: () => T; done: (out: T) => void }

export interface Interleaved<T> {
  /** The warm-up call's result (the caller frees it). */
  out: T;
  ours: Block[];
  peers: Array<{ worker: PeerWorker; blocks: Block[]; output: Record<string, unknown> }>;
}

/** `rounds` rounds of `reps` calls per side, in the alternating order of `schedule`. */
export async function interleave<T>(ours: OursJob<T>, peers: Array<{ worker: PeerWorker; job: string }>, rounds: number, reps: number): Promise<Interleaved<T>> {
  const out = ours.run();
  const outputs: Array<Record<string, unknown>> = [];
  for (const p of peers) {
    if (!p.worker.jobs.includes(p.job)) throw new Error(`bench:peer: ${p.worker.label} has no job ${p.job} (it has ${p.worker.jobs.join(', ')})`);
    outputs.push((await p.worker.block(p.job, 0, { output: true })).output ?? {});
  }
  const [oursBlocks, ...peerBlocks] = await alternate([
    { block: (n) => block(ours.run, n, ours.done) },
    ...peers.map((p) => ({ block: async (n: number) => {
      const r = await p.worker.block(p.job, n);
      return { ms: r.ms, cpuMs: r.cpuMs };
    } })),
  ], rounds, reps);
  return { out, ours: oursBlocks, peers: peers.map((p, i) => ({ worker: p.worker, blocks: peerBlocks[i], output: outputs[i] })) };
}

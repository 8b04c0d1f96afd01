/**
 * The peers (PyTorch and JAX, benchmarks/peer/*.py) as long-lived workers pinned with
 * `taskset`: 1 thread on CPU 1 (XLA's thread flags alone do not keep JAX on one core; the pin
 * does), and PyTorch with 2 threads on CPUs 0–1 for the 2-thread row (this process waits
 * meanwhile). Each worker loads the spec once and then times the blocks of calls it is sent
 * (common.py `serve`), so bench:peer can interleave ours and the peers round by round.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Block } from './rounds.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = join(root, '.bench', 'venv', 'bin', 'python');

/** max |a − b| / max |b|: the largest difference relative to the peer's scale. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / Math.max(s, 1e-30);
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
}

/** One block's reply, with the warm-up call's encoded result when asked. */
export type Reply = Block & { output?: Record<string, unknown> };

/** A running peer: `block(job, reps)` times `reps` calls of a job there (after a warm-up call if asked). */
export interface PeerWorker {
  framework: string;
  version: string;
  threads: number;
  label: string;
  jobs: string[];
  block(job: string, reps: number, warmup?: { output: boolean }): Promise<Reply>;
  close(): Promise<void>;
}

function start(script: string, cpus: string, env: Record<string, string>, input: string, pin: boolean, label: string): Promise<PeerWorker> {
  const command = [join(root, 'peer', script), input];
  const child: ChildProcessWithoutNullStreams = spawn(pin ? 'taskset' : python, pin ? ['-c', cpus, python, ...command] : command, {
    env: { ...process.env, ...env }, cwd: join(root, 'peer'), stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  // a worker that died answers through `next` (its output closes); writing to it must not throw EPIPE
  child.stdin.on('error', () => undefined);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let exited: string | undefined;
  child.on('exit', (code, signal) => { exited = `${script} exited (${code ?? signal})`; });
  const next = async (): Promise<Record<string, unknown>> => {
    const r = await lines.next();
    if (r.done) throw new Error(`bench:peer: ${label}: ${exited ?? 'the worker closed its output'}; see its stderr above`);
    return JSON.parse(r.value) as Record<string, unknown>;
  };
  let queue: Promise<unknown> = Promise.resolve();
  const ask = <T>(cmd: object): Promise<T> => {
    const p = queue.then(async () => {
      child.stdin.write(JSON.stringify(cmd) + '\n');
      return (await next()) as T;
    });
    queue = p.catch(() => undefined);
    return p;
  };
  return next().then((info) => ({
    framework: info.framework as string,
    version: info.version as string,
    threads: Number(env.PEER_THREADS),
    label,
    jobs: info.jobs as string[],
    block: (job, reps, warmup) => ask<Reply>({ job, reps, warmup: warmup != null, output: warmup?.output ?? false }),
    close: async () => {
      if (exited != null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.stdin.end(JSON.stringify({ quit: true }) + '\n');
      await gone;
    },
  }));
}

/**
 * Starts every peer on the spec in `input` (PyTorch and JAX on 1 thread; PyTorch on 2 threads
 * with `twoInput`, the spec without training): the workers stay up until `close()`.
 * `only` keeps the workers of those labels ('PyTorch', 'JAX', 'PyTorch 2 thr'; all by default).
 */
export async function startPeers(input: string, twoInput: string, only?: readonly string[]): Promise<PeerWorker[]> {
  const pin = hasTaskset();
  if (!pin) console.warn('bench:peer: taskset not found; the peers run unpinned (install util-linux)');
  const one = { PEER_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', XLA_FLAGS: '--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1' };
  const two = { PEER_THREADS: '2', OMP_NUM_THREADS: '2' };
  const jobs: Array<[string, string, Record<string, string>, string, string]> = [
    ['foe_torch.py', '1', one, input, 'PyTorch'],
    ['foe_jax.py', '1', one, input, 'JAX'],
    ['foe_torch.py', '0,1', two, twoInput, 'PyTorch 2 thr'],
  ];
  const workers: PeerWorker[] = [];
  for (const [script, cpus, env, file, label] of jobs) {
    if (only != null && !only.includes(label)) continue;
    console.log(`bench:peer: ${script} worker on CPU ${cpus}${env.PEER_THREADS === '2' ? ' (2 threads)' : ''}`);
    workers.push(await start(script, cpus, env, file, pin, label));
  }
  return workers;
}

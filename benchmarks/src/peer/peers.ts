/**
 * Running the peers (PyTorch and JAX, benchmarks/peer/*.py) pinned with `taskset`: 1 thread on
 * CPU 1 (XLA's thread flags alone do not keep JAX on one core; the pin does), and PyTorch with
 * 2 threads on CPUs 0–1 for the 2-thread row (this process waits meanwhile).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const python = join(root, '.bench', 'venv', 'bin', 'python');

export interface PeerResult {
  framework: string;
  version: string;
  threads: number;
  primitives: Array<{ batch: number; ms: Record<string, number>; cores: Record<string, number>; outputs: Record<string, number[]> }>;
  hypergradient?: { ms: number; cores: number; loss: number; grad: Record<string, number[]> };
  training: Array<{ model: string; ms: number; cores: number; losses: number[]; theta: Record<string, number[]> }>;
}

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

/** Runs every peer on the spec in `input`; returns their results. */
export function runPeers(input: string, dir: string): PeerResult[] {
  const pin = hasTaskset();
  if (!pin) console.warn('bench:peer: taskset not found; the peers run unpinned (install util-linux)');
  const one = { PEER_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', XLA_FLAGS: '--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1' };
  const two = { PEER_THREADS: '2', OMP_NUM_THREADS: '2' };
  const spec = JSON.parse(readFileSync(input, 'utf8'));
  const twoInput = join(dir, 'peer-input-2.json');
  writeFileSync(twoInput, JSON.stringify({ ...spec, training: [] }));
  const jobs: Array<[string, string, Record<string, string>, string]> = [
    ['foe_torch.py', '1', one, input],
    ['foe_jax.py', '1', one, input],
    ['foe_torch.py', '0,1', two, twoInput],
  ];
  return jobs.map(([script, cpus, env, file], i) => {
    const output = join(dir, `peer-output-${i}.json`);
    const command = [join(root, 'peer', script), file, output];
    console.log(`bench:peer: ${script} on CPU ${cpus}${env.PEER_THREADS === '2' ? ' (2 threads)' : ''}`);
    execFileSync(pin ? 'taskset' : python, pin ? ['-c', cpus, python, ...command] : command, { stdio: 'inherit', env: { ...process.env, ...env }, cwd: join(root, 'peer') });
    const r = JSON.parse(readFileSync(output, 'utf8')) as PeerResult;
    r.threads = Number(env.PEER_THREADS);
    return r;
  });
}

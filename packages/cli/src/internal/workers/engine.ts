/**
 * Opens the engine a config's `workers` names: `inline` (this thread), `threads`
 * (`@bilevel/pool`) or `redis` (`@bilevel/distributed`, with `processes` local worker
 * processes started here). The two packages are imported on first use only, so a run
 * without `workers` does not load BullMQ.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inlinePool, type SamplePool } from '@bilevel/core';
import type { TrainConfig } from '../../config/schema.js';
import { FailureError } from '../../errors.js';
import { cliTask, type CliTaskSetup } from './task.js';

/** An open engine. */
export interface OpenWorkers {
  pool: SamplePool;
  /** For the run's first line: `threads ×2`, `redis redis://… queue q, 2 local processes`. */
  label: string;
  close(): Promise<void>;
}

/** The task module's URL (its `.ts` source in the repository, `.js` when built). */
export const TASK_MODULE = new URL('./task' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url);

/** `bin/bilevel.mjs` of this package (the folder above `src/` or `dist/` holding its package.json). */
export function binPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === '@bilevel/cli') return join(dir, 'bin', 'bilevel.mjs');
    const up = dirname(dir);
    if (up === dir) throw new Error('bilevel train: cannot find the @bilevel/cli package folder (for bin/bilevel.mjs).');
    dir = up;
  }
}

/** Starts one `bilevel worker <config>` process and resolves once it says it is ready. */
function startLocalWorker(file: string, constants: CliTaskSetup['constants'], timeoutMs = 180_000): Promise<ChildProcess> {
  const args = [binPath(), 'worker', file, '--quiet', ...(constants != null ? ['--constants', JSON.stringify(constants)] : [])];
  // Its own process group: a Ctrl-C on the terminal stops the coordinator after the
  // iteration, not the workers it still needs; close() ends the group.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs / 1000} s`), timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      stop(child);
      reject(new FailureError(`workers.processes: a local worker process ${why}: ${output.trim().split('\n').slice(-3).join(' | ') || 'no output'}`));
    };
    const keep = (b: Buffer) => (output = (output + b.toString()).slice(-4096));
    const onData = (b: Buffer) => {
      keep(b);
      if (!/bilevel worker: ready/.test(output)) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      resolve(child);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited (${signal ?? code}) before it was ready`);
    child.stdout!.on('data', onData);
    child.stderr!.on('data', keep);
    child.on('exit', onExit);
  });
}

function stop(child: ChildProcess): void {
  try {
    if (child.exitCode == null && child.signalCode == null) process.kill(-child.pid!, 'SIGTERM');
  } catch {
    // already gone
  }
}

/**
 * The engine of `config.workers` (set), given one crop's bound constants as the coordinator
 * estimated them (`cropConstants`; MAID, DFO) or undefined.
 *
 * @param config - the resolved config.
 * @param dir - its folder.
 * @param file - the config file (local worker processes read it).
 * @param constants - one crop's bound constants, or undefined.
 * @returns the open engine; `close()` it.
 */
export async function openWorkers(config: TrainConfig, dir: string, file: string, constants: CliTaskSetup['constants']): Promise<OpenWorkers> {
  const w = config.workers!;
  const setup: CliTaskSetup = { config, dir, ...(constants != null ? { constants } : {}) };
  if (w.kind === 'inline') {
    const { task, dispose } = cliTask(setup);
    const pool = inlinePool(task);
    return { pool, label: 'inline (crop by crop)', close: async () => { await pool.close(); dispose(); } };
  }
  if (w.kind === 'threads') {
    const { workerPool } = await import('@bilevel/pool');
    const pool = await workerPool({ module: TASK_MODULE, setup, ...(w.count != null ? { threads: w.count } : {}) });
    return { pool, label: `threads ×${pool.size}`, close: () => pool.close() };
  }
  const { distributedPool } = await import('@bilevel/distributed');
  let pool: Awaited<ReturnType<typeof distributedPool>>;
  try {
    pool = await distributedPool({ connection: w.url, queue: w.queue, samples: config.data.count, size: Math.max(1, w.processes) });
  } catch (e) {
    throw new FailureError(`workers.url: ${(e as Error).message}`);
  }
  const children: ChildProcess[] = [];
  const close = async () => {
    await pool.close();
    await Promise.all(children.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode != null || c.signalCode != null) return resolve();
      c.once('exit', () => resolve());
      stop(c);
    })));
  };
  try {
    const started = await Promise.allSettled(Array.from({ length: w.processes }, () => startLocalWorker(file, setup.constants)));
    for (const c of started) if (c.status === 'fulfilled') children.push(c.value);
    const failed = started.find((c) => c.status === 'rejected');
    if (failed != null) throw failed.reason;
  } catch (e) {
    await close();
    throw e;
  }
  return { pool, label: `redis ${w.url} queue '${w.queue}'${w.processes > 0 ? `, ${w.processes} local worker process${w.processes > 1 ? 'es' : ''}` : ' (start workers with bilevel worker <config>)'}`, close };
}

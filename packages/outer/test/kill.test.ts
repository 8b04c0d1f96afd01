import { describe, it, expect, beforeAll } from 'vitest';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, initBackend, type Work } from '@bilevel/core';
import { train, type ProgressEvent, type TrainResult } from '../src/index.js';
import { fileCheckpoint, readCheckpoint } from '../src/node.js';
import { mulberry32 } from '../src/internal/rng.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resumeSetup, type ResumeMethod } from './fixtures/resume-problem.js';
import { armKill, Killed } from './fixtures/kill-points.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: false });
});

/** What must be bit-identical: θ and the method state, the history and the work without wall-clock fields. */
function trajectory(r: TrainResult) {
  const strip = ({ timeMs: _t, ...rest }: ProgressEvent) => rest;
  const { timeMs: _w, ...work } = r.work as Work & { timeMs?: number };
  return { state: r.state, history: r.history.map(strip), work, status: r.status };
}

/** One "process": a fresh setup trained with a file checkpoint every iteration, resuming if one exists. */
async function process1(kind: ResumeMethod, file: string | undefined): Promise<TrainResult> {
  const s = resumeSetup(kind);
  try {
    const r = await train({
      method: s.method, problem: s.problem, strategy: s.strategy, data: s.data, loss: s.loss, batchData: s.batchData, constants: s.constants,
      theta0: s.theta0, budget: s.budget, ...(file != null ? { checkpoint: fileCheckpoint(file, 1), resume: true } : {}),
    });
    tf.dispose(Object.values(r.theta));
    return r;
  } finally {
    s.dispose();
  }
}

describe('killed at random moments (inside checkpoint writes too) and resumed with the defaults = uninterrupted, bit for bit', () => {
  for (const kind of ['maid', 'adam', 'dfo'] as const) {
    it(`${kind}: 6 kills at random file operations (2 in the middle of a write)`, async () => {
      const full = await process1(kind, undefined);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kill-${kind}-`));
      const file = path.join(dir, 'run.json');
      // how many file operations a whole run makes, to draw kill points from
      const probe = armKill(Number.MAX_SAFE_INTEGER);
      await process1(kind, path.join(dir, 'probe.json'));
      const total = probe.calls();
      probe.disarm();
      const rand = mulberry32({ maid: 11, adam: 23, dfo: 37 }[kind]);
      const points = Array.from({ length: 6 }, () => 1 + Math.floor(rand.next() * total)).sort((a, b) => a - b);
      const kills: string[] = [];
      let done = 0;
      for (const [i, point] of points.entries()) {
        // points are counted from the start of the whole run; each restart continues it
        const at = Math.max(1, point - done);
        const kill = armKill(at, i % 3 === 1);
        try {
          await process1(kind, file);
          throw new Error('the run ended before its kill point');
        } catch (e) {
          if (!(e instanceof Killed) && !((e as Error).cause instanceof Killed)) throw e;
        } finally {
          kill.disarm();
        }
        done += kill.calls();
        const ckpt = fs.existsSync(file) ? await readCheckpoint(file) : undefined;
        kills.push(`op ${point} (${kill.killedIn()}${i % 3 === 1 ? ' after half of its bytes' : ''}) → iteration ${ckpt?.iterations ?? 0}`);
      }
      const resumed = await process1(kind, file);
      console.log(`[kill] ${kind}: ${total} file operations per run; killed at ${kills.join(', ')}; final loss ${resumed.history.at(-1)!.loss} (uninterrupted ${full.history.at(-1)!.loss})`);
      expect(trajectory(resumed)).toEqual(trajectory(full));
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }
});

/**
 * The hang detector of one child: a child that has not exited this long after its start is stuck, not slow. Each
 * child (a tsx start, the wasm backend, ≤ 12 MAID iterations) takes ~5 s at load 2–4 and scales with the load, so
 * the test waits on each child's exit under its own limit instead of fitting 8 children into the suite's 120 s.
 */
const CHILD_LIMIT_MS = 120_000;

/** Runs the child script once; kills it with SIGKILL `delayMs` after it is ready (unless it ends first). */
function child(file: string, result: string, options: { delayMs?: number; killAt?: string }): Promise<{ killed: boolean; code: number | null; ms: number }> {
  const script = fileURLToPath(new URL('./fixtures/resume-child.ts', import.meta.url));
  const env = { ...process.env, ...(options.killAt != null ? { KILL_AT: options.killAt } : {}) };
  const p = spawn(process.execPath, ['--conditions=@bilevel/source', '--import', 'tsx', script, 'maid', file, result], { cwd: path.dirname(script), env, stdio: ['ignore', 'pipe', 'inherit'] });
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let output = '';
    const hung = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`kill test: the child (${JSON.stringify(options)}) did not exit within ${CHILD_LIMIT_MS / 1000} s of its start; its output: ${output}`));
    }, CHILD_LIMIT_MS);
    p.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      if (options.delayMs != null && d.toString().includes('ready')) setTimeout(() => p.kill('SIGKILL'), options.delayMs);
    });
    p.on('error', (e) => {
      clearTimeout(hung);
      reject(e);
    });
    p.on('exit', (code, signal) => {
      clearTimeout(hung);
      resolve({ killed: signal === 'SIGKILL', code, ms: performance.now() - t0 });
    });
  });
}

describe('real processes: MAID killed with SIGKILL, resumed, equals the uninterrupted run', () => {
  it('7 kills (2 at random delays, 3 at random file operations, 2 inside a checkpoint write) then a run to the end', async () => {
    const full = await process1('maid', undefined);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kill-sigkill-'));
    const file = path.join(dir, 'run.json');
    const result = path.join(dir, 'result.json');
    const rand = mulberry32(5);
    const pick = (n: number) => 1 + Math.floor(rand.next() * n);
    // The whole run is 12 iterations of ~11 file operations, about 1 s on an idle machine: a kill
    // after a random delay may land after the end (it is then logged as "exit 0" and not counted).
    // The five kills at a drawn file operation always land: each child advances at most ~2
    // iterations before its drawn operation (≤ 4 writes, ≤ 8 fsyncs, ≤ 3 renames; a save does
    // 3 writes, 5 fsyncs, 2 renames), so 5 of them end before iteration 12.
    const plan = [
      { delayMs: 50 + Math.floor(rand.next() * 300) },
      { killAt: `writeSync:${pick(4)}` },
      { killAt: 'renameSync:3' },
      { delayMs: 50 + Math.floor(rand.next() * 300) },
      { killAt: `fsyncSync:${pick(8)}` },
      { killAt: 'writeSync:2:half' },
      { killAt: `renameSync:${pick(3)}` },
    ];
    const log: string[] = [];
    let kills = 0;
    let tempsSeen = 0;
    for (const step of plan) {
      const r = await child(file, result, step);
      if (r.killed) kills += 1;
      tempsSeen += fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length;
      const at = fs.existsSync(file) ? (await readCheckpoint(file)).iterations : 0;
      log.push(`${'delayMs' in step ? `${step.delayMs} ms` : step.killAt} → ${r.killed ? 'killed' : `exit ${r.code}`} at iteration ${at} (${(r.ms / 1000).toFixed(1)} s)`);
    }
    const last = await child(file, result, {});
    expect(last.code).toBe(0);
    console.log(`[sigkill] maid: ${log.join('; ')}; temporary files seen after kills: ${tempsSeen}, after the final run: ${fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length}`);
    expect(kills).toBeGreaterThanOrEqual(5); // the delayed ones may land after the end; the five at drawn file operations always kill
    expect(JSON.parse(fs.readFileSync(result, 'utf8'))).toEqual({ status: full.status, iterations: full.history.length });
    const ckpt = await readCheckpoint(file);
    const strip = ({ timeMs: _t, ...rest }: ProgressEvent) => rest;
    const { timeMs: _w, ...work } = ckpt.work as Work & { timeMs?: number };
    expect({ state: ckpt.state, history: ckpt.history.map(strip), work, status: ckpt.finished?.status }).toEqual(trajectory(full));
    // stale temporary files of the killed writers are gone
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
    // 8 children in sequence, each under its own CHILD_LIMIT_MS (a stuck one fails within it), plus the in-process run
  }, 8 * CHILD_LIMIT_MS + 60_000);
});

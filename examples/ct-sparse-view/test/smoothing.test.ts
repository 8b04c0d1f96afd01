import { it, expect, describe } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseRowValues, rowSmoothing, smoothingRows, modelRow, ROW_SMOOTHING, SMOOTHING_FLAGS } from '../src/smoothing.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Runs a script of the example (tsx, source conditions) to its exit, asynchronously: a synchronous spawn would block
 * the test worker's event loop for its whole run, and under load vitest's worker RPC times out ("onTaskUpdate").
 */
function runScript(file: string, args: string[], timeout = 60_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@bilevel/source', '--import', 'tsx', file, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/*
 * The per-row --mu / --epsilon flags (smoothing.ts): row=value pairs over the defaults, and an error that
 * names a misspelt row or a bad value; main.ts refuses them before any row runs.
 */
describe('ct-sparse-view --mu / --epsilon per row', () => {
  it('the defaults are the rows\' μ and ε, and a pair changes its row alone', () => {
    expect(parseRowValues('mu', SMOOTHING_FLAGS.mu)).toEqual({ 'tv-maid': 0.001, foe: 0.001, icnn: 0.001 });
    expect(parseRowValues('epsilon', SMOOTHING_FLAGS.epsilon)).toEqual({ 'tv-maid': 0.00002, foe: 0.0001, icnn: 0.0001 });
    expect(parseRowValues('mu', 'icnn=3e-3')).toEqual({ 'tv-maid': 0.001, foe: 0.001, icnn: 0.003 });
    expect(parseRowValues('epsilon', ' foe = 5e-5 , tv-maid=1e-5')).toEqual({ 'tv-maid': 1e-5, foe: 5e-5, icnn: ROW_SMOOTHING.icnn.epsilon });
    expect(rowSmoothing({ mu: 'icnn=0.002', epsilon: SMOOTHING_FLAGS.epsilon }, 'icnn')).toEqual({ mu: 0.002, epsilon: ROW_SMOOTHING.icnn.epsilon });
    expect(rowSmoothing({}, 'foe')).toEqual(ROW_SMOOTHING.foe);
  });

  it('a misspelt row, a repeated row, a bare number or a bad value is an error naming it', () => {
    expect(() => parseRowValues('mu', 'icn=1e-3')).toThrow(/--mu names the row 'icn', which is not one of tv-maid, foe, icnn/);
    expect(() => parseRowValues('epsilon', 'tv=2e-5')).toThrow(/--epsilon names the row 'tv'/);
    expect(() => parseRowValues('mu', 'foe=1e-3,foe=2e-3')).toThrow(/--mu gives the row 'foe' twice/);
    // the old --mu 0.01 (the ICNN's alone) is refused rather than read as every row's
    expect(() => parseRowValues('mu', '0.01')).toThrow(/--mu takes row=value pairs .*got '0.01'/);
    expect(() => parseRowValues('mu', 'icnn=abc')).toThrow(/--mu icnn=abc: the value must be a number > 0/);
    expect(() => parseRowValues('epsilon', 'icnn=0')).toThrow(/--epsilon icnn=0: the value must be a number > 0/);
    expect(() => parseRowValues('epsilon', 'icnn=')).toThrow(/--epsilon icnn=: the value must be a number > 0/);
    expect(() => parseRowValues('mu', 'foe=-1e-3')).toThrow(/--mu foe=-1e-3/);
  });

  it('smoothingRows reads both flags per row through the same parser; a script\'s model takes its row', () => {
    expect(smoothingRows({})).toEqual(ROW_SMOOTHING);
    expect(smoothingRows({ mu: 'tv-maid=0.01,icnn=3e-3', epsilon: 'foe=5e-5' })).toEqual({
      'tv-maid': { mu: 0.01, epsilon: ROW_SMOOTHING['tv-maid'].epsilon },
      foe: { mu: ROW_SMOOTHING.foe.mu, epsilon: 5e-5 },
      icnn: { mu: 3e-3, epsilon: ROW_SMOOTHING.icnn.epsilon },
    });
    expect(() => smoothingRows({ mu: '0.01' })).toThrow(/--mu takes row=value pairs .*got '0.01'/);
    expect(() => smoothingRows({ epsilon: 'icnn=1e-4,icnn=2e-4' })).toThrow(/--epsilon gives the row 'icnn' twice/);
    expect([modelRow('s.ts', 'tv'), modelRow('s.ts', 'foe'), modelRow('s.ts', 'icnn')]).toEqual(['tv-maid', 'foe', 'icnn']);
    expect(() => modelRow('tv-start.ts', 'fo')).toThrow(/ct-sparse-view tv-start.ts: --models lists 'fo', which is not one of tv, foe, icnn/);
  });

  it('main.ts stops on a misspelt row before any row runs', async () => {
    const r = await runScript('src/main.ts', ['--methods', 'fbp', '--mu', 'icnm=1e-3', '--out', 'out/smoothing-test']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--mu names the row 'icnm'/);
    // it stopped before the backend and the rows
    expect(r.stdout).not.toMatch(/fbp: .* s CPU/);
  });

  it('scripts/anchor.ts reads the same flags: a misspelt row, and its old --mus, stop it before the backend', async () => {
    const row = await runScript('scripts/anchor.ts', ['--epsilon', 'tv=2e-5']);
    expect(row.status).not.toBe(0);
    expect(row.stderr).toMatch(/--epsilon names the row 'tv', which is not one of tv-maid, foe, icnn/);
    expect(row.stdout).not.toMatch(/FBP held out/);
    const old = await runScript('scripts/anchor.ts', ['--mus', '0.01']);
    expect(old.status).toBe(2);
    expect(old.stderr).toMatch(/--mus/);
    expect(old.stdout).not.toMatch(/FBP held out/);
  });

  it('scripts/tv-start.ts gives each model its row\'s μ and ε', async () => {
    const args = ['--size', '12', '--angles', '6', '--count', '1', '--test', '1', '--models', 'tv,foe', '--mu', 'foe=3e-3', '--epsilon', 'tv-maid=1e-5', '--tol', '1e-3', '--maxIter', '3000'];
    const r = await runScript('scripts/tv-start.ts', args, 120_000);
    expect(r.status, r.stderr).toBe(0);
    // TV at the tv-maid row (μ default, ε given), the FoE at its row (μ given, ε default)
    expect(r.stdout).toContain(`tv μ = ${ROW_SMOOTHING['tv-maid'].mu}, ε = 0.00001; foe μ = 0.003, ε = ${ROW_SMOOTHING.foe.epsilon}`);
    expect(r.stdout).toMatch(/\| TV-MAID's Huber-TV \(isotropic\) \|/);
    expect(r.stdout).toMatch(/\| foe 'tv' start/);
  });

  // the scripts that build one model per row read --mu / --epsilon as main.ts does; each case stops the script
  // before its backend (the line it prints first, after initBackend, is absent)
  const scripts: Array<[string, string[], RegExp, RegExp]> = [
    ['tv-start.ts', ['--mu', 'tv=1e-3'], /--mu names the row 'tv', which is not one of tv-maid, foe, icnn/, /PDHG to residual/],
    ['tv-start.ts', ['--models', 'tv,fo'], /tv-start.ts: --models lists 'fo', which is not one of tv, foe, icnn/, /PDHG to residual/],
    ['pdhg-steps.ts', ['--mu', '0.01'], /--mu takes row=value pairs .*got '0.01'/, /tol = linearTol/],
    ['icnn-conditioning.ts', ['--epsilon', 'icnn=1e-4,icnn=2e-4'], /--epsilon gives the row 'icnn' twice/, /ICNN at its TV start/],
    ['foe-conditioning.ts', ['--epsilon', '1e-4'], /--epsilon takes row=value pairs .*got '1e-4'/, /F\(θ₀\)/],
  ];
  it.each(scripts)('scripts/%s %j stops with an error naming it, before the backend', async (script, args, error, started) => {
    const r = await runScript(`scripts/${script}`, args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(error);
    expect(r.stdout).not.toMatch(started);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/\[bilevel\] tfjs .* backend/);
  });
});

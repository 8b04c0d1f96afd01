import { it, expect, describe } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseRowValues, rowSmoothing, ROW_SMOOTHING, SMOOTHING_FLAGS } from '../src/smoothing.js';

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

  it('main.ts stops on a misspelt row before any row runs', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const r = spawnSync(process.execPath, ['--conditions=@bilevel/source', '--import', 'tsx', 'src/main.ts', '--methods', 'fbp', '--mu', 'icnm=1e-3', '--out', 'out/smoothing-test'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--mu names the row 'icnm'/);
    // it stopped before the backend and the rows
    expect(r.stdout).not.toMatch(/fbp: .* s CPU/);
  });

  it('scripts/anchor.ts reads the same flags: a misspelt row, and its old --mus, stop it before the backend', () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const run = (...args: string[]) => spawnSync(process.execPath, ['--conditions=@bilevel/source', '--import', 'tsx', 'scripts/anchor.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    const row = run('--epsilon', 'tv=2e-5');
    expect(row.status).not.toBe(0);
    expect(row.stderr).toMatch(/--epsilon names the row 'tv', which is not one of tv-maid, foe, icnn/);
    expect(row.stdout).not.toMatch(/FBP held out/);
    const old = run('--mus', '0.01');
    expect(old.status).toBe(2);
    expect(old.stderr).toMatch(/--mus/);
    expect(old.stdout).not.toMatch(/FBP held out/);
  });
});

import { it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/*
 * Calling bilevel before initBackend(): a fresh process (tfjs's backend registry is global,
 * so it cannot be un-initialised inside this one) calls paramsFromArrays and argmin's
 * function with the wasm backend registered but not started. The error must say to call
 * initBackend(), not tfjs's "await tf.ready()" alone. ~2 s (tsx start).
 */
it('before initBackend(): the error says to call initBackend()', () => {
  const dir = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.tmp-backend-'));
  const script = join(dir, 'probe.mts');
  const core = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  writeFileSync(script, `
    import { paramsFromArrays, requireBackend } from ${JSON.stringify(core)};
    const out: string[] = [];
    try { paramsFromArrays({ s: { shape: [], values: [0] } }); out.push('no error'); } catch (e) { out.push((e as Error).message); }
    try { requireBackend('train'); out.push('no error'); } catch (e) { out.push((e as Error).message); }
    console.log(JSON.stringify(out));
  `);
  try {
    const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
    const stdout = execFileSync(tsx, ['--conditions=@bilevel/source', script], { encoding: 'utf8', timeout: 60_000 });
    const [params, trainMessage] = JSON.parse(stdout.trim().split('\n').pop()!) as string[];
    expect(params).toMatch(/^paramsFromArrays: no tfjs backend is ready: call `await initBackend\(\)` \(from @bilevel\/core\) once before using bilevel/);
    expect(trainMessage).toMatch(/^train: no tfjs backend is ready: call `await initBackend\(\)`/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

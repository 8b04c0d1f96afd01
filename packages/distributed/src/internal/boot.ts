// How the coordinator's bridge thread starts (as @bilevel/pool's threads do): a CommonJS
// boot script that registers tsx when this package runs from its TypeScript sources.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export const BOOT = `const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((e) => { console.error('[bilevel distributed] bridge failed to start:', e); process.exit(1); });`;

/** The bridge's entry, the tsx loader when running from sources, and the exec arguments. */
export function bridgePlan(entry: URL): { entry: string; tsx?: string; execArgv?: string[] } {
  if (!entry.pathname.endsWith('.ts')) return { entry: entry.href };
  const manifest = createRequire(entry).resolve('tsx/package.json');
  return { entry: entry.href, tsx: pathToFileURL(manifest.replace(/package\.json$/, 'dist/esm/api/index.mjs')).href, execArgv: ['--conditions=@bilevel/source'] };
}

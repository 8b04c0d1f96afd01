// How a pool thread starts: a tiny CommonJS boot script (eval) that registers tsx when a
// TypeScript file must be loaded (this package run from its sources, or a task module
// written in TypeScript), then imports the thread body.
import { createRequire } from 'node:module';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';

export const BOOT = `const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})().catch((e) => { console.error('[bilevel pool] thread failed to start:', e); process.exit(1); });`;

const TYPESCRIPT = /\.[cm]?ts$/;

/** The module specifier as a URL string: URLs and absolute paths become file URLs; package names stay. */
export function moduleSpecifier(where: string, module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') throw new Error(`${where}: option 'module' must be a URL (new URL('./task.js', import.meta.url)), an absolute path or a package name, got ${String(module)}.`);
  if (module.startsWith('file:') || /^[a-z]+:/i.test(module) && !isAbsolute(module)) return module;
  if (isAbsolute(module)) return pathToFileURL(module).href;
  if (module.startsWith('.')) throw new Error(`${where}: option 'module' is the relative path '${module}', which a worker cannot resolve; pass new URL('${module}', import.meta.url) or an absolute path.`);
  return module;
}

/** The entry of a thread, the tsx loader if one is needed, and the exec arguments. */
export function bootPlan(where: string, entry: URL, module: string): { entry: string; tsx?: string; execArgv?: string[] } {
  const fromSource = TYPESCRIPT.test(entry.pathname);
  if (!fromSource && !TYPESCRIPT.test(module)) return { entry: entry.href };
  let tsx: string;
  try {
    const manifest = createRequire(entry).resolve('tsx/package.json');
    tsx = pathToFileURL(manifest.replace(/package\.json$/, 'dist/esm/api/index.mjs')).href;
  } catch {
    throw new Error(`${where}: the task module '${module}' is TypeScript and tsx is not installed; install tsx (npm i -D tsx) or point 'module' at the compiled .js file.`);
  }
  // From the sources (this repository's tests), workspace packages resolve to src/ as in vitest.
  return { entry: entry.href, tsx, execArgv: fromSource ? ['--conditions=@bilevel/source'] : undefined };
}

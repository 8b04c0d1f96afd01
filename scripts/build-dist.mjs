// Finishes dist/ of every public package after `tsc -b` (which emits the ESM build and
// the declarations): removes outputs whose source file is gone (tsc never deletes them,
// and they would be published), then writes the CommonJS build.
//
// dist/cjs/ mirrors dist/ file by file: esbuild transpiles each src/**/*.ts to a CommonJS
// .js (no bundling, so `require('@bilevel/core')` and `import '@bilevel/core'` load the
// same module graph, shape for shape), the .d.ts files are copied next to them, and
// dist/cjs/package.json says `"type": "commonjs"` so Node loads those .js files as
// CommonJS and TypeScript reads those .d.ts files as CommonJS declarations (a .d.ts
// under a `"type": "module"` scope cannot be `require`d: TS1479).
//
// Modules that read `import.meta.url` get it from `__filename`. Any esbuild warning
// fails the build: a warning here means the CommonJS copy behaves differently.
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Files under `dir` (recursively) whose name passes `keep`, `exclude` dirs skipped. */
function walk(dir, keep, exclude = new Set()) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!exclude.has(path)) out.push(...walk(path, keep, exclude));
    } else if (keep(entry.name)) out.push(path);
  }
  return out;
}

/** The public (non-private) workspace packages under packages/. */
export function publicPackages() {
  return readdirSync(join(root, 'packages'))
    .map((name) => join(root, 'packages', name))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => manifest.private !== true);
}

async function buildPackage(dir) {
  const src = join(dir, 'src');
  const dist = join(dir, 'dist');
  const cjs = join(dist, 'cjs');
  if (!existsSync(join(dist, 'index.d.ts'))) {
    throw new Error(`build-dist: ${relative(root, dist)}/index.d.ts is missing; run \`tsc -b\` first (the root \`build\` script does both).`);
  }
  rmSync(cjs, { recursive: true, force: true });
  const sources = walk(src, (name) => name.endsWith('.ts') && !name.endsWith('.d.ts'));
  let pruned = 0;
  for (const file of walk(dist, (name) => /\.(js|js\.map|d\.ts)$/.test(name))) {
    const source = join(src, relative(dist, file)).replace(/\.(js|js\.map|d\.ts)$/, '.ts');
    if (!existsSync(source)) {
      rmSync(file);
      pruned += 1;
    }
  }
  const usesMeta = sources.filter((file) => readFileSync(file, 'utf8').includes('import.meta'));
  const plain = sources.filter((file) => !usesMeta.includes(file));
  const common = { outdir: cjs, outbase: src, format: 'cjs', platform: 'node', target: 'node20', sourcemap: true, logLevel: 'silent' };
  const results = [await build({ ...common, entryPoints: plain })];
  if (usesMeta.length > 0) {
    results.push(
      await build({
        ...common,
        entryPoints: usesMeta,
        define: { 'import.meta.url': '__bilevelImportMetaUrl' },
        banner: { js: '"use strict";\nvar __bilevelImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
      }),
    );
  }
  const warnings = results.flatMap((r) => r.warnings);
  if (warnings.length > 0) {
    const text = warnings.map((w) => `${w.location?.file ?? '?'}:${w.location?.line ?? '?'}: ${w.text}`).join('\n');
    throw new Error(`build-dist: esbuild warned on ${relative(root, dir)}; the CommonJS build would differ from the ESM one:\n${text}`);
  }
  for (const file of walk(dist, (name) => name.endsWith('.d.ts'), new Set([cjs]))) {
    const target = join(cjs, relative(dist, file));
    mkdirSync(dirname(target), { recursive: true });
    cpSync(file, target);
  }
  writeFileSync(join(cjs, 'package.json'), `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n`);
  return { modules: sources.length, pruned };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  let modules = 0;
  let pruned = 0;
  const packages = publicPackages();
  for (const { dir } of packages) {
    const built = await buildPackage(dir);
    modules += built.modules;
    pruned += built.pruned;
  }
  console.log(`build-dist: ${packages.length} packages, ${modules} modules -> dist/cjs, ${pruned} stale outputs pruned, ${Date.now() - started} ms`);
}

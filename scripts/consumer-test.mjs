// Consumer test: what a user gets from the registry, checked outside the workspace.
//
// 1. `pnpm pack` every public package (built dist/ required), then `npm publish --dry-run`
//    each tarball; check each tarball: no src/ or test/, no `workspace:` ranges, every
//    `exports` target present, README and LICENSE shipped. Prints the sizes.
// 2. Install the tarballs with the peer dependencies into a fresh project under
//    os.tmpdir() (npm, from its cache when warm).
// 3. There: a plain-Node ESM script (`import`) and a CommonJS script (`require`) each load
//    every entry point and compute a hypergradient checked against its closed form
//    (scripts/consumer/check.cjs); `tsc --noEmit` type-checks consumer code that imports
//    every entry point (ESM and CJS) under strict, noUncheckedIndexedAccess,
//    exactOptionalPropertyTypes and skipLibCheck: false.
//
// Any failure exits non-zero with the step and the output. BILEVEL_CONSUMER_KEEP=1 keeps
// the temporary folder.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { publicPackages } from './build-dist.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'bilevel-consumer-'));
const tarballs = join(work, 'tarballs');
const app = join(work, 'app');
mkdirSync(tarballs);
mkdirSync(app);

function fail(step, message) {
  console.error(`\nconsumer-test FAILED at ${step}:\n${message}\n(temporary folder kept: ${work})`);
  process.exit(1);
}

// Environment for npm/node children: without the npm_config_* variables pnpm sets for its
// own scripts (npm warns on pnpm-only keys, and they would change npm's behaviour).
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'NODE_OPTIONS'));

function run(step, command, args, cwd) {
  const r = spawnSync(command, args, { cwd, env: childEnv, encoding: 'utf8', maxBuffer: 64 << 20 });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.error || r.status !== 0) fail(step, `$ ${command} ${args.join(' ')}  (in ${cwd})\n${r.error ? String(r.error) : output}`);
  return output;
}

/** `run`, asynchronous: for the per-package steps, which run in parallel. */
function runAsync(step, command, args, cwd) {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd, env: childEnv });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => fail(step, `$ ${command} ${args.join(' ')}  (in ${cwd})\n${String(e)}`));
    child.on('close', (status) => (status === 0 ? done(out) : fail(step, `$ ${command} ${args.join(' ')}  (in ${cwd})\n${out}`)));
  });
}

/** pnpm: the one running this script when there is one, else `npx --yes pnpm@9`. */
function pnpm(args, cwd, step) {
  const execPath = process.env.npm_execpath;
  if (execPath && /pnpm/.test(execPath) && existsSync(execPath)) return runAsync(step, process.execPath, [execPath, ...args], cwd);
  return runAsync(step, 'npx', ['--yes', 'pnpm@9', ...args], cwd);
}

/** Entries of a .tgz: name (without `package/`) and size, read with zlib + the tar header layout. */
function tarEntries(file) {
  const buf = gunzipSync(readFileSync(file));
  const entries = new Map();
  for (let off = 0; off + 512 <= buf.length; ) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const str = (a, b) => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
    const prefix = str(345, 500);
    const name = (prefix ? `${prefix}/` : '') + str(0, 100);
    const size = parseInt(str(124, 136).trim() || '0', 8);
    const type = str(156, 157);
    if (type === '0' || type === '') entries.set(name.replace(/^package\//, ''), { size, data: buf.subarray(off + 512, off + 512 + size) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return entries;
}

function exportTargets(exports, out = []) {
  if (typeof exports === 'string') out.push(exports);
  else if (exports && typeof exports === 'object') for (const v of Object.values(exports)) exportTargets(v, out);
  return out;
}

const kb = (n) => `${(n / 1024).toFixed(1)} kB`;

// ---------------------------------------------------------------- 1. pack and inspect
const packages = publicPackages();
for (const { dir, manifest } of packages) {
  if (!existsSync(join(dir, 'dist', 'index.js')) || !existsSync(join(dir, 'dist', 'cjs', 'index.js'))) {
    fail('pack', `${manifest.name}: dist/ is not built; run \`npx --yes pnpm@9 build\` (tsc -b, then scripts/build-dist.mjs) first.`);
  }
}
const packed = await Promise.all(
  packages.map(async ({ dir, manifest }) => {
    const destination = join(tarballs, manifest.name.replace(/^@/, '').replace('/', '-'));
    mkdirSync(destination);
    await pnpm(['pack', '--pack-destination', destination], dir, `pnpm pack ${manifest.name}`);
    const made = readdirSync(destination);
    if (made.length !== 1) fail(`pnpm pack ${manifest.name}`, `expected one tarball in ${destination}, found ${made.join(', ') || 'none'}`);
    return { name: manifest.name, dir, file: join(destination, made[0]) };
  }),
);

const problems = [];
const entrySpecifiers = [];
console.log('\nTarballs (packed / unpacked / files):');
for (const p of packed) {
  const entries = tarEntries(p.file);
  const m = JSON.parse(entries.get('package.json').data.toString('utf8'));
  p.manifest = m;
  const unpacked = [...entries.values()].reduce((a, e) => a + e.size, 0);
  console.log(`  ${p.name.padEnd(22)} ${kb(statSync(p.file).size).padStart(9)} ${kb(unpacked).padStart(10)} ${String(entries.size).padStart(5)}`);
  const names = [...entries.keys()];
  for (const n of names) {
    if (/^(src|test)\//.test(n) || /(^|\/)test\//.test(n) || n.endsWith('.tsbuildinfo') || /\.test\.(js|d\.ts)$/.test(n)) problems.push(`${p.name}: ships ${n} (only dist/, README, LICENSE and data belong in the tarball; fix "files")`);
  }
  for (const f of ['README.md', 'LICENSE']) if (!entries.has(f)) problems.push(`${p.name}: ${f} is missing from the tarball`);
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(m[field] ?? {})) {
      if (String(range).startsWith('workspace:')) problems.push(`${p.name}: ${field}.${dep} is still '${range}' in the packed manifest (pack with pnpm, which rewrites it)`);
    }
  }
  if (JSON.stringify(m.exports).includes('@bilevel/source') || JSON.stringify(m.exports).includes('/src/')) {
    problems.push(`${p.name}: the packed "exports" still point at src/ (add the entry to "publishConfig.exports" without the @bilevel/source condition)`);
  }
  for (const target of [...exportTargets(m.exports), m.main, m.module, m.types].filter(Boolean)) {
    const file = target.replace(/^\.\//, '');
    if (!entries.has(file)) problems.push(`${p.name}: "${target}" (exports/main/types) is not in the tarball`);
  }
  const source = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8'));
  const sourceKeys = Object.keys(source.exports ?? {}).sort().join(',');
  const packedKeys = Object.keys(m.exports ?? {}).sort().join(',');
  if (sourceKeys !== packedKeys) problems.push(`${p.name}: "exports" has subpaths [${sourceKeys}] but "publishConfig.exports" has [${packedKeys}]; keep them in step`);
  for (const [subpath, target] of Object.entries(m.exports ?? {})) {
    if (subpath.endsWith('package.json')) continue;
    entrySpecifiers.push(subpath === '.' ? p.name : `${p.name}/${subpath.replace(/^\.\//, '')}`);
    if (!target?.import?.types || !target?.require?.types) problems.push(`${p.name}: exports["${subpath}"] needs import and require conditions, each with types`);
  }
}
if (problems.length > 0) fail('tarball contents', problems.join('\n'));

console.log('\nnpm publish --dry-run:');
const dryRuns = await Promise.all(packed.map((p) => runAsync(`npm publish --dry-run ${p.name}`, 'npm', ['publish', '--dry-run', p.file], tarballs)));
for (const [i, p] of packed.entries()) {
  const out = dryRuns[i];
  const pick = (label) => out.match(new RegExp(`${label}:\\s*(.+)`))?.[1]?.trim() ?? '?';
  const published = out.match(/^\+ (.+)$/m)?.[1];
  if (!published) fail(`npm publish --dry-run ${p.name}`, `no '+ name@version' line in:\n${out}`);
  console.log(`  + ${published.padEnd(28)} package size ${pick('package size')}, unpacked ${pick('unpacked size')}, ${pick('total files')} files`);
}

// ---------------------------------------------------------------- 2. install
const rootManifest = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
const core = packed.find((p) => p.name === '@bilevel/core');
const dependencies = {};
for (const p of packed) dependencies[p.name] = `file:${relative(app, p.file)}`;
for (const [peer] of Object.entries(core.manifest.peerDependencies ?? {})) {
  dependencies[peer] = JSON.parse(readFileSync(join(core.dir, 'package.json'), 'utf8')).devDependencies[peer];
}
dependencies['@types/node'] = rootManifest('@types/node').version;
writeFileSync(
  join(app, 'package.json'),
  `${JSON.stringify({ name: 'bilevel-consumer', version: '0.0.0', private: true, dependencies, overrides: Object.fromEntries(packed.map((p) => [p.name, dependencies[p.name]])) }, null, 2)}\n`,
);
const installStart = Date.now();
run('npm install', 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);
console.log(`\nnpm install into ${app}: ${((Date.now() - installStart) / 1000).toFixed(1)} s (${Object.keys(dependencies).join(', ')})`);
for (const p of packed) {
  const installed = join(app, 'node_modules', p.name);
  if (!existsSync(join(installed, 'dist', 'index.js'))) fail('npm install', `${p.name} is not installed from its tarball at ${installed}`);
  const nested = join(installed, 'node_modules', '@bilevel');
  if (existsSync(nested)) fail('npm install', `${p.name} got its own nested copy of ${readdirSync(nested).join(', ')}: two @bilevel/core instances`);
}

// ---------------------------------------------------------------- 3. use
cpSync(join(root, 'scripts', 'consumer'), app, { recursive: true });
writeFileSync(join(app, 'entries.json'), `${JSON.stringify(entrySpecifiers, null, 2)}\n`);
const imports = (kind) =>
  entrySpecifiers
    .map((s, i) => (kind === 'esm' ? `import * as entry${i} from '${s}';` : `import entry${i} = require('${s}');`))
    .concat([`export const entries = [${entrySpecifiers.map((_, i) => `entry${i}`).join(', ')}];`])
    .join('\n');
writeFileSync(join(app, 'every-entry.mts'), `// Generated by scripts/consumer-test.mjs: every public entry point, ESM.\n${imports('esm')}\n`);
writeFileSync(join(app, 'every-entry.cts'), `// Generated by scripts/consumer-test.mjs: every public entry point, CommonJS.\n${imports('cjs')}\n`);
writeFileSync(
  join(app, 'tsconfig.json'),
  `${JSON.stringify(
    {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        // tfjs's own declarations name DOM types (HTMLCanvasElement, WebGLRenderingContext, ...);
        // no `types` list, so @types/node and the @types tfjs depends on (long, emscripten) load.
        lib: ['ES2022', 'DOM'],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck: false,
        noEmit: true,
      },
      include: ['*.mts', '*.cts'],
    },
    null,
    2,
  )}\n`,
);

// tfjs 4.22's own declarations do not compile under `strict` with skipLibCheck false
// (tfjs-layers: LayersModel vs InferenceModel, PyJsonValue index signatures), for any
// consumer that imports it. So the check is: our packages and the consumer code add no
// error to those of a baseline project that imports only @tensorflow/tfjs, and no error
// is located outside node_modules/@tensorflow/.
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
/** `tsc -p project` (asynchronous, so the two projects check in parallel): its error lines. */
function typeErrors(project) {
  return new Promise((done) => {
    const child = spawn(process.execPath, [tsc, '-p', project], { cwd: app, env: childEnv });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (status) => {
      if (status !== 0 && !/error TS\d+/.test(out)) fail(`tsc -p ${project}`, out);
      done({ out, errors: out.split('\n').filter((l) => /^\S.*\(\d+,\d+\): error TS\d+/.test(l)) });
    });
  });
}
writeFileSync(join(app, 'baseline.mts'), "// Generated: tfjs alone, the baseline of its own declaration errors.\nimport * as tf from '@tensorflow/tfjs';\nexport const version: string = tf.version_core;\n");
const config = JSON.parse(readFileSync(join(app, 'tsconfig.json'), 'utf8'));
writeFileSync(join(app, 'tsconfig.baseline.json'), `${JSON.stringify({ ...config, include: ['baseline.mts'] }, null, 2)}\n`);
config.exclude = ['baseline.mts'];
writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify(config, null, 2)}\n`);
const typecheckStart = Date.now();
const [baseline, consumer] = await Promise.all([typeErrors('tsconfig.baseline.json'), typeErrors('tsconfig.json')]);
const known = new Set(baseline.errors);
const ours = consumer.errors.filter((l) => !known.has(l) || !l.startsWith('node_modules/@tensorflow/'));
if (ours.length > 0) {
  fail('tsc --noEmit (strict consumer)', `errors beyond tfjs's own (${baseline.errors.length} in the baseline):\n${ours.join('\n')}\n\nfull output:\n${consumer.out}`);
}
console.log(
  `\ntsc --noEmit (strict, noUncheckedIndexedAccess, exactOptionalPropertyTypes, skipLibCheck false), ${entrySpecifiers.length} entry points ESM + CJS + typed quickstart: 0 errors from bilevel or consumer code (tfjs's own: ${consumer.errors.length}, same as a tfjs-only baseline), ${((Date.now() - typecheckStart) / 1000).toFixed(1)} s`,
);

console.log('node esm.mjs:');
process.stdout.write(run('node esm.mjs', process.execPath, ['esm.mjs'], app));
console.log('node cjs.cjs:');
const cjsOut = run('node cjs.cjs', process.execPath, ['cjs.cjs'], app);
process.stdout.write(cjsOut);
if (/ExperimentalWarning|require\(\) of ES Module/.test(cjsOut)) fail('node cjs.cjs', `require() went through Node's ESM loader:\n${cjsOut}`);

// The `bilevel` binary of @bilevel/cli as an installed project runs it (`npx bilevel`): its
// version, and a tiny training run whose JSON summary must report every iteration.
console.log('npx bilevel:');
const cliVersion = run('npx bilevel --version', 'npx', ['--no', '--', 'bilevel', '--version'], app).trim();
if (cliVersion !== packed.find((p) => p.name === '@bilevel/cli')?.manifest.version) fail('npx bilevel --version', `printed '${cliVersion}'`);
writeFileSync(
  join(app, 'tiny.json'),
  `${JSON.stringify({ data: { crop: 16, count: 2, testCount: 1 }, model: { kind: 'tv' }, budget: { iterations: 3 }, output: { images: 1 } }, null, 2)}\n`,
);
const training = spawnSync('npx', ['--no', '--', 'bilevel', 'train', 'tiny.json', '--json'], { cwd: app, env: childEnv, encoding: 'utf8', maxBuffer: 64 << 20 });
if (training.status !== 0) fail('npx bilevel train tiny.json', `exit ${training.status}:\n${training.stdout}${training.stderr}`);
const trained = JSON.parse(training.stdout); // --json: only the summary on stdout (logs on stderr)
if (trained.iterations !== 3 || !(trained.heldOut?.learned?.psnr > 0)) fail('npx bilevel train tiny.json', JSON.stringify(trained).slice(0, 500));
const usage = spawnSync('npx', ['--no', '--', 'bilevel', 'train', 'missing.yaml'], { cwd: app, env: childEnv, encoding: 'utf8' });
if (usage.status !== 2 || !/no config file missing\.yaml/.test(usage.stderr)) fail('npx bilevel train missing.yaml', `exit ${usage.status}: ${usage.stderr}`);
console.log(`  bilevel ${cliVersion}: train tiny.json -> ${trained.iterations} iterations, held-out PSNR ${trained.heldOut.learned.psnr.toFixed(2)} dB, files ${trained.files.length}; a missing config exits 2`);

if (process.env.BILEVEL_CONSUMER_KEEP === '1') console.log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
console.log(`consumer-test: ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);

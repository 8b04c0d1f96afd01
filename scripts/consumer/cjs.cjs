// CommonJS consumer: plain Node, `require` of the installed tarballs (their dist/cjs build).
'use strict';
const tfjs = require('@tensorflow/tfjs');
const core = require('@bilevel/core');
const implicit = require('@bilevel/implicit');
const check = require('./check.cjs');

async function main() {
  const entries = {};
  for (const specifier of require('./entries.json')) entries[specifier] = require(specifier);
  check.checkEntries(entries);
  await check.checkHypergradient({ core, implicit, tfjs, label: 'CJS require' });
  const resolved = require.resolve('@bilevel/core');
  if (!resolved.endsWith('/dist/cjs/index.js')) throw new Error(`consumer check: require('@bilevel/core') resolved to ${resolved}, not dist/cjs/index.js`);
  console.log(`  CJS require: ${Object.keys(entries).length} entry points loaded`);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});

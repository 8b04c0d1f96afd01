// ESM consumer: plain Node, `import` of the installed tarballs.
import { readFileSync } from 'node:fs';
import * as tfjs from '@tensorflow/tfjs';
import * as core from '@bilevel/core';
import * as implicit from '@bilevel/implicit';
import check from './check.cjs';

const entries = {};
for (const specifier of JSON.parse(readFileSync(new URL('./entries.json', import.meta.url), 'utf8'))) {
  entries[specifier] = await import(specifier);
}
check.checkEntries(entries);
await check.checkHypergradient({ core, implicit, tfjs, label: 'ESM import' });
console.log(`  ESM import: ${Object.keys(entries).length} entry points loaded`);

// The committed bytes of every *-simd-module.ts are what scripts/build-simd.mjs makes of its
// .wat: an edit of a .wat without regenerating the module (or a hand edit of the base64) fails
// here. wabt's JS build of wat2wasm, the version the script runs (1.0.39).
import { it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';
import { TV_SIMD_WASM } from '../src/internal/tv-simd-module.js';
import { FILTER_SIMD_WASM } from '../src/internal/filter-simd-module.js';
import { RADON_SIMD_WASM } from '../src/internal/radon-simd-module.js';
import { SOLVER_SIMD_WASM } from '../../core/src/kernels/solver-simd-module.js';

const MODULES: Array<[string, string, string]> = [
  ['tv', '../src/internal/tv-simd.wat', TV_SIMD_WASM],
  ['filter', '../src/internal/filter-simd.wat', FILTER_SIMD_WASM],
  ['radon', '../src/internal/radon-simd.wat', RADON_SIMD_WASM],
  ['solver (core)', '../../core/src/kernels/solver-simd.wat', SOLVER_SIMD_WASM],
];

it.each(MODULES)('%s: the module holds the compiled .wat, byte for byte', async (_name, wat, base64) => {
  const file = fileURLToPath(new URL(wat, import.meta.url));
  const module = (await wabt()).parseWat(file, readFileSync(file, 'utf8'), { simd: true });
  try {
    module.resolveNames();
    module.validate();
    const compiled = Buffer.from(module.toBinary({}).buffer);
    const committed = Buffer.from(base64, 'base64');
    expect(committed.length).toBe(compiled.length);
    expect(committed.equals(compiled)).toBe(true);
  } finally {
    module.destroy();
  }
});

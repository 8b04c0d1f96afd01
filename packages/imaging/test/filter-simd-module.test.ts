// The committed bytes of filter-simd-module.ts are what scripts/build-filter-simd.mjs makes of
// filter-simd.wat: an edit of the .wat without regenerating the module (or a hand edit of the
// base64) fails here. wabt's JS build of wat2wasm, the same version the script runs (1.0.39).
import { it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';
import { FILTER_SIMD_WASM } from '../src/internal/filter-simd-module.js';

it('filter-simd-module.ts holds the compiled filter-simd.wat, byte for byte', async () => {
  const file = fileURLToPath(new URL('../src/internal/filter-simd.wat', import.meta.url));
  const module = (await wabt()).parseWat('filter-simd.wat', readFileSync(file, 'utf8'), { simd: true });
  try {
    module.resolveNames();
    module.validate();
    const compiled = Buffer.from(module.toBinary({}).buffer);
    const committed = Buffer.from(FILTER_SIMD_WASM, 'base64');
    expect(committed.length).toBe(compiled.length);
    expect(committed.equals(compiled)).toBe(true);
  } finally {
    module.destroy();
  }
});

// Test setup of `scripts/native-vitest.config.ts`: every `initBackend(...)` of the suites
// starts the backend named by BILEVEL_BACKEND (the assembled `tensorflow` one) instead of
// the wasm/cpu the test asked for, so the suites' numerical checks run on that backend.
// Tests that check a backend's identity or its own kernels then fail by design (counted
// in the report, not hidden).
import { vi } from 'vitest';

const forced = process.env.BILEVEL_BACKEND;
if (forced == null || forced === '') throw new Error('native-test-setup: set BILEVEL_BACKEND (e.g. tensorflow) for this config.');

vi.mock('../packages/core/src/index.ts', async (importOriginal) => {
  const core = await importOriginal<typeof import('../packages/core/src/index.ts')>();
  return {
    ...core,
    initBackend: (options: Parameters<typeof core.initBackend>[0] = {}) => core.initBackend({ ...options, backend: forced as never, wasmPaths: undefined }),
  };
});

// Suites that run once per backend (packages/testing's describeEachBackend) run once, on the forced backend.
vi.mock('../packages/testing/src/backends.ts', async (importOriginal) => {
  const testing = await importOriginal<typeof import('../packages/testing/src/backends.ts')>();
  const { describe, beforeAll } = await import('vitest');
  const core = await import('../packages/core/src/index.ts');
  return {
    ...testing,
    BACKENDS: [forced],
    describeEachBackend(name: string, body: (backend: string) => void) {
      describe(`${name} [${forced}]`, () => {
        beforeAll(async () => {
          await core.initBackend({ backend: forced as never, log: false });
        });
        body(forced!);
      });
    },
  };
});

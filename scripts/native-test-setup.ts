// Test setup of `scripts/native-vitest.config.ts`: every `initBackend(...)` of the suites
// starts the backend named by BILEVEL_BACKEND (the assembled `tensorflow` one) instead of
// the wasm/cpu the test asked for, so the suites' numerical checks run on that backend.
// Tests that check a backend's identity or its own kernels then fail by design (counted
// in the report, not hidden).
import { vi } from 'vitest';

const forced = process.env.BILEVEL_BACKEND;
if (forced == null || forced === '') throw new Error('native-test-setup: set BILEVEL_BACKEND (e.g. tensorflow) for this config.');

vi.mock('../packages/core/src/index.ts', async (importOriginal) => {
  const core = await importOriginal<typeof import('@bilevel/core')>();
  return {
    ...core,
    initBackend: (options: Parameters<typeof core.initBackend>[0] = {}) => core.initBackend({ ...options, backend: forced as never, wasmPaths: undefined }),
  };
});

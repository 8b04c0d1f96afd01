// The suites on another backend: `BILEVEL_BACKEND=tensorflow npx vitest run --config scripts/native-vitest.config.ts packages/core`
// (after `bash scripts/native-backend.sh`). See scripts/native-test-setup.ts.
import { defineConfig, mergeConfig } from 'vitest/config';
import base from '../vitest.config.js';

export default mergeConfig(base, defineConfig({ test: { setupFiles: [new URL('./native-test-setup.ts', import.meta.url).pathname] } }));

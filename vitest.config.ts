import { defineConfig } from 'vitest/config';

// Tests run on the TypeScript sources: the `@bilevel/source` export condition of every
// workspace package points at its src/index.ts, so no build is needed first and a test
// never mixes a package's src/ with its dist/ (two copies of core would register tfjs
// gradients twice and break `instanceof`). Vite's default conditions are kept after it.
const conditions = ['@bilevel/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts', 'benchmarks/test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});

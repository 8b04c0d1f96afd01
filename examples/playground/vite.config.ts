import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  base: './',
  resolve: {
    // The workspace packages from their TypeScript sources (their `@bilevel/source` export
    // condition), so the playground builds without `pnpm build` first.
    conditions: ['@bilevel/source', ...defaultClientConditions],
  },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096, reportCompressedSize: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  server: { host: '127.0.0.1' },
});

import { defaultClientConditions, defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// Until @bilevel/imaging and @bilevel/outer move their file helpers behind `/node` subpath
// exports, their module-level Node imports resolve to a browser stand-in (never called here).
const nodeStub = fileURLToPath(new URL('./src/internal/node-stub.ts', import.meta.url));

export default defineConfig({
  base: './',
  resolve: {
    // The workspace packages from their TypeScript sources (their `@bilevel/source` export
    // condition), so the playground builds without `pnpm build` first.
    conditions: ['@bilevel/source', ...defaultClientConditions],
    alias: [
      { find: /^node:(fs|path|url)$/, replacement: nodeStub },
      { find: /^pngjs$/, replacement: nodeStub },
    ],
  },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096, reportCompressedSize: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  server: { host: '127.0.0.1' },
});

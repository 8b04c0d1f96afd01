// `node --conditions=@bilevel/source bench/worker.mjs <redis url> <queue> <task module path>`
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');

// A benchmark worker process: one job at a time, on the task module given as argument.
import { startWorker } from '../src/index.js';

const [url, queue, module] = process.argv.slice(2);
await startWorker({ connection: url, queue, module });
console.log('ready');

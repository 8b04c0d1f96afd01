// The body of one pool thread: starts its own tfjs backend, imports the task module, then
// runs the samples of each request, pulling the next index from a shared counter so the
// threads balance the load; the result of a sample does not depend on which thread ran it.
import { workerData } from 'node:worker_threads';
import { initBackend, sampleRunner, taskFromModule, paramsFromPlain, disposeParams, packWarm, unpackWarm, sameLayout, type BackendName, type PackedWarm, type SampleRunner } from '@bilevel/core';
import { post, type ThreadData, type ToThread } from './protocol.js';

const data = workerData as ThreadData;
const signal = new Int32Array(data.signal);
const { port, index } = data;
let runner: SampleRunner | undefined;

process.on('exit', () => {
  Atomics.store(signal, 1 + index, 0);
  Atomics.notify(signal, 0);
});

function run(message: Extract<ToThread, { type: 'run' }>): void {
  const next = new Int32Array(message.next);
  const theta = paramsFromPlain(message.theta);
  try {
    for (;;) {
      const k = Atomics.add(next, 0, 1);
      if (k >= message.jobs.length) break;
      const { sample, warm } = message.jobs[k];
      let fresh: PackedWarm | undefined;
      try {
        const outcome = runner!.run({ ...message.job, sample }, theta, {
          get: () => (warm == null ? undefined : unpackWarm(warm.layout, new Float32Array(warm.buffer))),
          put: (w) => {
            const packed = packWarm(w);
            // same slots and shapes: overwrite the shared buffer in place; else send it back
            if (warm != null && sameLayout(warm.layout, packed.layout)) new Float32Array(warm.buffer).set(packed.values);
            else fresh = packed;
          },
        });
        post(port, signal, { type: 'result', id: message.id, k, outcome, warm: fresh });
      } catch (e) {
        post(port, signal, { type: 'error', id: message.id, k, sample, message: e instanceof Error ? e.message : String(e) });
        // the other threads stop pulling new samples of this request
        Atomics.store(next, 0, message.jobs.length);
      }
    }
  } finally {
    disposeParams(theta);
    post(port, signal, { type: 'done', id: message.id, index });
  }
}

async function start(): Promise<void> {
  try {
    await initBackend({ backend: data.backend as BackendName, log: false });
    const task = await taskFromModule(await import(data.module), data.setup, data.module);
    runner = sampleRunner(task);
    post(port, signal, { type: 'ready', index, samples: task.samples });
  } catch (e) {
    post(port, signal, { type: 'failed', index, message: e instanceof Error ? e.message : String(e) });
    return;
  }
  port.on('message', (message: ToThread) => {
    if (message.type === 'run') run(message);
    else if (message.type === 'close') {
      runner?.dispose();
      port.close();
    }
  });
}

void start();

// The body of one pool thread: starts its own tfjs backend, imports the task module, then
// runs the samples of each request, pulling the next index from a shared counter so the
// threads balance the load; the result of a sample does not depend on which thread ran it.
import { workerData } from 'node:worker_threads';
import { initBackend, sampleRunner, taskFromModule, paramsFromPlain, disposeParams, packWarm, unpackWarm, sameLayout, type BackendName, type PackedWarm, type SampleRunner } from '@bilevel/core';
import { post, type ThreadData, type ThreadReport, type ToThread } from './protocol.js';
import { epochMs, threadClock } from './clock.js';

const data = workerData as ThreadData;
const signal = new Int32Array(data.signal);
const { port, index } = data;
let runner: SampleRunner | undefined;

process.on('exit', () => {
  Atomics.store(signal, 1 + index, 0);
  Atomics.notify(signal, 0);
});

function run(message: Extract<ToThread, { type: 'run' }>): void {
  const startedAt = epochMs();
  const clock0 = threadClock();
  const samples: ThreadReport['samples'] = [];
  const next = new Int32Array(message.next);
  const theta = paramsFromPlain(message.theta);
  try {
    for (;;) {
      const at = Atomics.add(next, 0, 1);
      if (at >= message.jobs.length) break;
      const k = message.pull[at];
      const { sample, warm } = message.jobs[k];
      const t0 = epochMs();
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
        samples.push({ sample, ms: epochMs() - t0 });
      } catch (e) {
        post(port, signal, { type: 'error', id: message.id, k, sample, message: e instanceof Error ? e.message : String(e) });
        samples.push({ sample, ms: epochMs() - t0 });
        // the other threads stop pulling new samples of this request
        Atomics.store(next, 0, message.jobs.length);
      }
    }
  } finally {
    disposeParams(theta);
    const clock = threadClock();
    const timing: ThreadReport = { startedAt, endedAt: epochMs(), samples };
    if (clock0 != null && clock != null) Object.assign(timing, { cpuMs: clock.cpuMs - clock0.cpuMs, waitMs: clock.waitMs - clock0.waitMs });
    post(port, signal, { type: 'done', id: message.id, index, timing });
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

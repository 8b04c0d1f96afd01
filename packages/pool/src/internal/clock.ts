// The clock of the calling thread: its CPU time and its time waiting for a CPU, from Linux's
// /proc/thread-self/schedstat (nanoseconds: time on a CPU, time runnable but waiting in the run
// queue, slices). Elsewhere (macOS, Windows, a kernel without schedstats) there is none.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** CPU ms and run-queue wait ms of this thread so far, or undefined where the kernel does not say. */
export function threadClock(): { cpuMs: number; waitMs: number } | undefined {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return Number.isFinite(run) && Number.isFinite(wait) ? { cpuMs: run / 1e6, waitMs: wait / 1e6 } : undefined;
  } catch {
    return undefined;
  }
}

/** Milliseconds since the epoch at sub-ms resolution, comparable between threads (each has its own timeOrigin). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

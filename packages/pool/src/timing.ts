/**
 * Where the wall time of a {@link WorkerPool} request went, per thread: what `pool.timing()`
 * returns after each `run`.
 *
 * @packageDocumentation
 */

/** One thread's share of one request. */
export interface ThreadTiming {
  /** The thread's index (0 … threads − 1). */
  thread: number;
  /** ms from posting the request to the thread starting on it (message delivery, a thread still busy). */
  startMs: number;
  /** ms from the thread starting on the request to it posting its last message. */
  busyMs: number;
  /** CPU ms of the thread while busy (Linux only: /proc/thread-self/schedstat; else undefined). */
  cpuMs?: number;
  /** ms it was runnable but waiting for a CPU while busy (preempted by other processes; Linux only). */
  waitMs?: number;
  /** The samples it ran, in the order it ran them, and the ms each took (including posting its result). */
  samples: Array<{ sample: number; ms: number }>;
}

/** One request: its wall time in the calling thread and every thread's share. */
export interface RunTiming {
  /** ms of the whole `run` call, posting the request to returning the outcomes. */
  wallMs: number;
  threads: ThreadTiming[];
}

/**
 * The summary figures of a {@link RunTiming}: how evenly the busy time splits, and how much of
 * the wall time is neither computing nor waiting for a CPU (the pool's own overhead).
 *
 * With `busy_t` the busy ms of thread t and `W` the wall ms: `balance = mean_t busy_t / max_t busy_t`
 * (1 = a perfect split), `overheadMs = W − max_t (startMs_t + busy_t)` (the calling thread's
 * time outside every thread's work: posting θ, waking, reading the outcomes).
 *
 * @param timing - what `pool.timing()` returned.
 * @returns `{ balance, overheadMs, busiestMs, cpuMs, waitMs }`: cpuMs and waitMs summed over the threads (NaN off Linux).
 * @example
 * ```ts
 * const t = pool.timing();
 * if (t) console.log(summarizeTiming(t).balance);
 * ```
 */
export function summarizeTiming(timing: RunTiming): { balance: number; overheadMs: number; busiestMs: number; cpuMs: number; waitMs: number } {
  const busy = timing.threads.map((t) => t.busyMs);
  const busiestMs = Math.max(...busy);
  const mean = busy.reduce((a, b) => a + b, 0) / busy.length;
  const end = Math.max(...timing.threads.map((t) => t.startMs + t.busyMs));
  const sum = (k: 'cpuMs' | 'waitMs') => timing.threads.reduce((s, t) => s + (t[k] ?? NaN), 0);
  return { balance: busiestMs > 0 ? mean / busiestMs : 1, overheadMs: timing.wallMs - end, busiestMs, cpuMs: sum('cpuMs'), waitMs: sum('waitMs') };
}

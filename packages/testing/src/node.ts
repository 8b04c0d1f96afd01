/**
 * `@bilevel/testing/node`: Node-only fixtures — the pool task that worker threads and
 * worker processes import by URL, and a throw-away `redis-server` for the tests of
 * `@bilevel/distributed` and the CLI's `workers: { kind: redis }` (CI installs the Debian
 * package; see .ci/run).
 *
 * @packageDocumentation
 */
import { spawn, type ChildProcess } from 'node:child_process';

export { default as testPoolTask } from './pool-task.js';
export type { TaskSetup } from './pool-task.js';

/** The URL of the test pool task module (`workerPool({ module })`, `startWorker({ module })`). */
export const TEST_POOL_TASK = new URL('./pool-task' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url);

/** A running `redis-server` of a test. */
export interface TestRedis {
  /** The server's process id (for CPU-time measurements). */
  pid: number;
  port: number;
  url: string;
  /** Stops the server. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a random port without persistence and waits until it accepts
 * connections.
 *
 * @param timeoutMs - how long to wait for it (default 10 s).
 * @returns the server's port and URL, and `stop()`.
 * @example
 * ```ts
 * const redis = await startRedis();
 * const pool = await distributedPool({ connection: redis.url, samples: 8 });
 * await redis.stop();
 * ```
 */
export function startRedis(timeoutMs = 10_000): Promise<TestRedis> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const proc: ChildProcess = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      proc.kill('SIGTERM');
      reject(new Error(`redis-server ${why}; output: ${output.trim() || 'none'}`));
    };
    proc.on('error', (e) => fail(`could not be started: ${e.message} (install it: apt-get install redis-server)`));
    proc.on('exit', (code) => fail(`exited with ${code}`));
    const onData = (b: Buffer) => {
      output += b.toString();
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        proc.removeAllListeners('exit');
        resolve({
          pid: proc.pid!,
          port,
          url: `redis://127.0.0.1:${port}`,
          stop: () => new Promise<void>((done) => {
            if (proc.exitCode != null || proc.signalCode != null) return done();
            proc.once('exit', () => done());
            proc.kill('SIGTERM');
          }),
        });
      }
    };
    proc.stdout!.on('data', onData);
  });
}

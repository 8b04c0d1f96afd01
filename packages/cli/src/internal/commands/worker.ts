/**
 * `bilevel worker <config>`: a worker process of a config whose `workers` is
 * `{ kind: 'redis', url, queue }` — it takes the crops' jobs from the queue until stopped
 * (Ctrl-C, SIGTERM). Start one per core on every machine that reaches Redis and holds the
 * config's images; `bilevel train` with `workers.processes: N` starts N itself.
 */
import { UsageError } from '../../errors.js';
import { parseArgv, flagsHelp, type FlagSpec } from '../../flags.js';
import { loadConfig, absoluteConfig } from '../../config/load.js';
import { handleProcessErrors } from '../../process.js';
import { say, type CliIo } from '../io.js';
import { TASK_MODULE } from '../workers/engine.js';
import type { CliTaskSetup } from '../workers/task.js';

/** Flags of `bilevel worker`. */
export const WORKER_FLAGS: Record<string, FlagSpec> = {
  constants: { type: 'string', description: "one crop's bound constants as JSON (bilevel train passes the ones it estimated; without: estimated here)" },
  quiet: { type: 'boolean', description: 'no line per job' },
  help: { type: 'boolean', short: 'h', description: 'this help' },
};

/** Help of `bilevel worker`. */
export function workerHelp(flags: Record<string, FlagSpec>): string {
  return `bilevel worker <config.json|yaml>: a worker process for a config with workers: { kind: redis, url, queue }

Takes the crops' hypergradient jobs of every \`bilevel train\` on that queue until Ctrl-C or SIGTERM
(it finishes the job it is on). Start one per core on each machine that reaches Redis and can read
the config's images.

flags:
${flagsHelp(flags)}`;
}

function parseConstants(text: string | undefined): CliTaskSetup['constants'] {
  if (text == null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`bilevel worker: flag --constants must be JSON, got ${JSON.stringify(text.slice(0, 60))} (${(e as Error).message}).`);
  }
  const keys = ['lossLipschitz', 'mixedNorm', 'hessianLipschitz', 'mixedLipschitz'] as const;
  const v = value as Record<string, unknown> | null;
  if (v == null || typeof v !== 'object' || !keys.every((k) => typeof v[k] === 'number' && Number.isFinite(v[k]) && (v[k] as number) >= 0)) {
    throw new UsageError(`bilevel worker: flag --constants must be { ${keys.join(', ')} } with non-negative numbers, got ${text.slice(0, 80)}.`);
  }
  return { lossLipschitz: v.lossLipschitz as number, mixedNorm: v.mixedNorm as number, hessianLipschitz: v.hessianLipschitz as number, mixedLipschitz: v.mixedLipschitz as number };
}

/** `bilevel worker` with parsed arguments; returns the exit code once stopped. */
export async function workerCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgv(argv, WORKER_FLAGS, 'bilevel worker');
  if (values.help === true) return -1;
  if (positionals.length !== 1) throw new UsageError(`bilevel worker: give one config file (bilevel worker <config.json|yaml>), got ${positionals.length === 0 ? 'none' : positionals.join(' ')}.`);
  const { config: loaded, file, dir } = loadConfig(positionals[0]);
  const w = loaded.workers;
  if (w?.kind !== 'redis') {
    throw new UsageError(`bilevel worker: ${file}: workers.kind must be "redis" for a worker process (got ${w == null ? 'no workers field' : JSON.stringify(w.kind)}); add workers: { kind: redis, url: redis://host:6379 }.`);
  }
  const constants = parseConstants(values.constants as string | undefined);
  const config = absoluteConfig(loaded, dir);
  const { startWorker } = await import('@bilevel/distributed');
  const setup: CliTaskSetup = { config, dir, ...(constants != null ? { constants } : {}) };
  const quiet = values.quiet === true;
  const worker = await startWorker({
    connection: w.url,
    queue: w.queue,
    module: TASK_MODULE,
    setup,
    backend: config.backend ?? 'wasm',
    ...(quiet ? {} : { onJob: ({ sample, call }: { sample: number; call: number }) => say(io.stdout, `bilevel worker: call ${call}, crop ${sample}`) }),
  });
  if (io.handleSigint === true) handleProcessErrors('bilevel worker');
  say(io.stdout, `bilevel worker: ready, pid ${process.pid}, queue '${w.queue}' on ${w.url}, ${config.model.kind} on ${config.task.kind}`);
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (io.signal?.aborted === true) finish();
    }, 200);
    const finish = () => {
      clearInterval(timer);
      process.removeListener('SIGINT', finish);
      process.removeListener('SIGTERM', finish);
      resolve();
    };
    if (io.handleSigint === true) {
      process.once('SIGINT', finish);
      process.once('SIGTERM', finish);
    }
  });
  await worker.close();
  say(io.stdout, `bilevel worker: stopped after ${worker.processed} jobs`);
  return 0;
}

/**
 * The like-for-like table from one or more `summary.json` files of main.ts: per run the final
 * objective (reported F̃ and F re-solved tightly), total inner iterations, wall time, their
 * ratios to FISTA with dynamic accuracy, and the inner iterations (and seconds) each run needed
 * until its F̃ first reached the dynamic run's final F̃.
 *
 *   npx tsx src/table.ts out/dfo-a/summary.json out/dfo-b/summary.json
 *
 * With `PLOTS=folder` it also writes one objective-vs-iterations SVG per problem with every run.
 */
import { readFileSync } from 'node:fs';
import { markdownTable, plotLossVersusWork } from '@bilevel/cli';

interface Run {
  problem: string;
  method: string;
  'F̃ reported': number;
  'F(θ) tight': number;
  'inner iterations': number;
  evaluations: number;
  'wall s': number;
  status: string;
  history: Array<{ work: number; loss: number; timeMs: number }>;
}

// Runs of one problem from every file, in order (e.g. a fixed-iteration file and a dynamic-only file).
const byProblem = new Map<string, Run[]>();
for (const file of process.argv.slice(2)) {
  const summary = JSON.parse(readFileSync(file, 'utf8')) as { problems: Record<string, Run[]> };
  for (const [problem, runs] of Object.entries(summary.problems)) byProblem.set(problem, [...(byProblem.get(problem) ?? []), ...runs]);
}
const rows: Array<Record<string, string | number>> = [];
for (const [problem, runs] of byProblem) {
  const dynamic = runs.find((r) => r.method === 'FISTA dynamic') ?? runs[0];
  const level = dynamic['F̃ reported'];
  for (const r of runs) {
    const hit = r.history.find((e) => Number.isFinite(e.loss) && e.loss <= level);
    rows.push({
      problem,
      method: r.method,
      'F̃ final': r['F̃ reported'].toPrecision(6),
      'F(θ) tight': r['F(θ) tight'].toPrecision(6),
      'inner iterations': r['inner iterations'],
      evaluations: r.evaluations,
      'wall s': r['wall s'].toFixed(1),
      'iterations ÷ FISTA dynamic': (r['inner iterations'] / dynamic['inner iterations']).toFixed(2),
      'time ÷ FISTA dynamic': (r['wall s'] / dynamic['wall s']).toFixed(2),
      'to FISTA dynamic final F̃: iterations (s)': hit ? `${hit.work} (${(hit.timeMs / 1000).toFixed(1)})` : 'never',
      stop: r.status,
    });
  }
}
console.log(markdownTable(rows));
const plots = process.env.PLOTS;
if (plots) {
  for (const [problem, runs] of byProblem) {
    const points = runs.flatMap((r) => r.history.filter((e) => Number.isFinite(e.loss)).map((e) => ({ series: r.method, work: e.work, loss: e.loss })));
    await plotLossVersusWork(`${plots}/${problem}-objective-vs-iterations.svg`, points, `${problem}: objective F̃ vs total lower-level iterations`);
  }
}

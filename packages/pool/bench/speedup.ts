// A batch of 8 lower-level problems (FoE denoising, 64×64) inline, on 1 and on 2 worker threads,
// timed interleaved in rounds: a thin caller of bench:peer's pool section
// (benchmarks/src/pool.ts, method in benchmarks/README.md); [rounds] sets BENCH_POOL_ROUNDS.
//   cd packages/pool && taskset -c 0,1 npx tsx --conditions=@bilevel/source bench/speedup.ts [rounds]
if (process.argv[2] != null) process.env.BENCH_POOL_ROUNDS = process.argv[2];
await import('../../../benchmarks/src/pool.js');

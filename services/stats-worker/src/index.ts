/**
 * @spindle/stats-worker: the stats task executor and its CSV statistics engine. The worker's
 * process (main.ts, config.ts) wires the executor to the coordinator connection.
 */
export { createStatsExecutor, type StatsExecutorOptions } from './executor';
export { StatsEngine, type FileStats, type StatsEngineOptions } from './stats/engine';
export { Accumulator, type AccumulatorState } from './stats/accumulator';
export { StatsError, isStatsError, type StatsErrorCode } from './errors';

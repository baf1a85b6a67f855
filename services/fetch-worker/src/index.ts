/**
 * @spindle/fetch-worker: the fetch worker's task executor. `main.ts` (the
 * composition root) builds it from config with {@link createFetchExecutor} and
 * hands it to the runtime's worker connection.
 */
export { adaptivePrefetch, createFetchExecutor, FETCH_EXECUTOR_DEFAULTS, PREFETCH_COVER_MS, type FetchExecutorOptions } from './executor';
export { loadConfig, executorOptionsOf, type FetchWorkerConfig } from './config';

export { startCoordinator, type Coordinator } from './server';
export { loadConfig, type CoordinatorConfig } from './config';
// The store and its checkpoint thread, for tests and maintenance tools.
export { SqliteStore } from './store/sqlite-store';
export { Checkpointer } from './store/checkpointer';

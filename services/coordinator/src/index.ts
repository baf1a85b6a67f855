export { startCoordinator, type Coordinator } from './server';
export { loadConfig, type CoordinatorConfig } from './config';

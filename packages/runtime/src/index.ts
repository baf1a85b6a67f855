export * from './task-executor';

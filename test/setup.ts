/**
 * Runs before every test file (vitest `setupFiles`). Registered first, so with vitest's
 * stacked hooks this afterAll runs after the file's own: the folders are removed once
 * whatever used them (coordinators, servers, child processes) has been stopped.
 */
import { afterAll } from 'vitest';
import { removeTempDirs } from './helpers/temp-dir';

afterAll(() => removeTempDirs());

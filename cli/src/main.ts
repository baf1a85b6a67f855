#!/usr/bin/env node
/**
 * Entry point of the `spindle` command: V8 settings and the code cache first, for
 * every module loaded after them, then the command itself (program.ts), from the
 * bundle the build makes when it is up to date (see bundle.ts), else module by module.
 */
import './startup';
import { bundledBuildInfos, freshBundle } from './bundle';

// eslint-disable-next-line @typescript-eslint/no-require-imports
require(freshBundle(__dirname, bundledBuildInfos(__dirname)) ?? './program');

import * as path from 'node:path';

/** The demo's bundled CSV files: `cli/demo-data` next to `cli/dist`. */
export const DEMO_DATA_DIR = path.resolve(__dirname, '..', '..', 'demo-data');

#!/usr/bin/env node
// Bundles the compiled CLI (cli/dist/program.js and what it loads: the SDK, grpc-js,
// commander, protobuf) into cli/dist/spindle.js, which cli/dist/main.js runs while it
// is newer than the compile (cli/src/bundle.ts says why: start-up time). Run by
// `npm run build` after `tsc -b`; bundles the emitted JavaScript, so the bundle runs
// exactly the code the modules would.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const dist = path.resolve(__dirname, '..', 'cli', 'dist');
const outfile = path.join(dist, 'spindle.js');

// A bundled module's __dirname and __filename would be the bundle's. Those of a module
// that uses them are declared in it as what they are unbundled, relative to the bundle
// (the demo's data folder, the CLI's package.json, the SDK's descriptors), on the line
// of its "use strict" so that source maps keep their lines.
const keepModulePaths = {
  name: 'keep-module-paths',
  setup(build) {
    build.onLoad({ filter: /\.js$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      if (!/\b__(dirname|filename)\b/.test(source)) return undefined;
      const rel = (p) => JSON.stringify(path.relative(dist, p).split(path.sep).join('/'));
      const declare =
        `var __dirname = __spindleFromBundle(${rel(path.dirname(args.path))}), ` +
        `__filename = __spindleFromBundle(${rel(args.path)});`;
      const prologue = /^(#![^\n]*\n)?(\s*(["'])use strict\3;)?/.exec(source)[0];
      return { contents: prologue + declare + source.slice(prologue.length), loader: 'js' };
    });
  },
};

esbuild
  .build({
    entryPoints: [path.join(dist, 'program.js')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // After the bundle's own "use strict", which must stay its first statement.
    banner: { js: '"use strict";\nconst __spindleFromBundle = (p) => require("node:path").join(__dirname, p);' },
    plugins: [keepModulePaths],
    // Loaded by grpc-js only for channelz and ORCA, which a client never uses: left
    // out (with protobufjs under it, 19 % of the bundle), required from node_modules
    // should it ever be.
    external: ['@grpc/proto-loader'],
    // Stack traces under --enable-source-maps point at the TypeScript sources (through
    // tsc's maps of the emitted modules).
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
  })
  .catch(() => process.exit(1));

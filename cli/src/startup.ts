/**
 * V8 set-up for the `spindle` process, imported by main.ts before any other module so
 * that it applies to all of them. Not for library use: it changes the whole process.
 */
// First, the Node built-in modules the CLI uses (gRPC's http2 with tls and net, zlib,
// dns, child_process, the promise APIs), before the flags below change: Node compiles
// its own modules from a code cache built into the binary, which V8 accepts only under
// the flags it was built with. Loaded after setFlagsFromString, every one of them was
// compiled from source instead: time from exec to the coordinator connection of
// `spindle fetch` (15 alternating runs each) 116.5 → 103.7 ms with 5,000 URLs, 110.4 →
// 92.5 ms with 2,000. (The few Node loads later on its own are compiled from source.)
import 'node:http2';
import 'node:zlib';
import 'node:dns';
import 'node:dns/promises';
import 'node:child_process';
import 'node:fs/promises';
import 'node:timers/promises';
import 'node:process';
import { setFlagsFromString } from 'node:v8';
import { installCodeCache } from './code-cache';

// No optimising compiler: a CLI run is too short to win back what TurboFan spends
// optimising hot functions on background threads (the module loader's path functions,
// the loops over a 5,000-URL list). Measured on `spindle fetch` of 5,000 URLs: 25 ms
// less CPU (177 → 154 ms), wall time unchanged. The interpreter and the baseline
// compiler still run everything. Set before the CLI's own modules load, as V8 checks
// code caches against its flags (the CLI's cache is made under these flags).
setFlagsFromString('--max-opt=1');
// Regular expressions compiled to native code at their first use, instead of first to
// bytecode and again to native code once hot: the CLI runs each of its few regular
// expressions briefly, and the big ones (node's IPv6 check, which grpc-js calls when it
// connects, ~3 ms for the two compilations) were compiled twice. Measured as the time
// from exec to the coordinator connection of `spindle fetch` (15 alternating runs):
// 112.8 → 108.0 ms with 5,000 URLs, 113.5 → 105.4 ms with 2,000.
setFlagsFromString('--no-regexp-tier-up');

installCodeCache();

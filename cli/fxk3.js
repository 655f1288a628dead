#!/usr/bin/env node
/**
 * The `fxk3` executable (package.json "bin"; `npx fxk3 …` inside the repository, or `npm run fxk3 -- …`).
 *
 * The CLI is an operator tool used from a clone of the repository: it runs the project's TypeScript sources
 * (the functions' own code) through tsx, a dev dependency, registered here the way `node --import tsx` does.
 * npm puts node_modules/.bin first on PATH, so `npx` and `npm run` use the project's Node 22.
 */
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('./main.ts');
const { processIo } = await import('./io.ts');
const code = await runCli(process.argv.slice(2), processIo());
process.exitCode = code;
// Everything is closed by now; should a socket linger, do not let it hold the shell (output is flushed first).
setTimeout(() => process.exit(code), 2_000).unref();

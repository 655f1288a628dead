/**
 * Bundling the functions once at start-up, as `npm run package` does for AWS (serverless-esbuild, the same
 * esbuild): every handler module and the worker bootstrap become plain ESM files, so a function's worker
 * thread starts without the TypeScript loader — no per-file transform of hundreds of modules in every
 * thread (the benchmark measured ~2 s of CPU per thread for that), and no loader hooks while it runs.
 *
 * Shared code goes into common chunks (one build, `splitting`), written under a directory of its own that
 * the stack removes when it stops. Source maps are written next to the files and switched on in the worker,
 * so stack traces in logs still name the TypeScript files and lines.
 *
 * Everything is bundled, the AWS SDK included (Lambda provides it, so the deployed bundles leave it out;
 * here nothing provides it and resolving it from the bundle's directory would not work).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The worker bootstrap of `invoker.ts`, bundled like the handlers. */
const WORKER_ENTRY = fileURLToPath(new URL('./worker-entry.ts', import.meta.url));

export interface FunctionBundles {
  /** The bundled worker bootstrap: the script of every function's worker thread. */
  workerEntry: string;
  /** Bundled module path by the handler module path it was built from. */
  modules: ReadonlyMap<string, string>;
  /** Where the files are (removed by `remove`). */
  dir: string;
  buildMs: number;
  remove(): void;
}

/**
 * Build the handler modules (absolute paths of `.ts`/`.js` files) and the worker bootstrap into `dir`.
 *
 * @throws {Error} esbuild's error when a module does not build (the caller falls back to loading the
 *   sources through the TypeScript loader, where the same problem shows as the function's init error).
 */
export async function bundleFunctions(modulePaths: readonly string[], dir: string): Promise<FunctionBundles> {
  const started = performance.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const entries = [...new Set([WORKER_ENTRY, ...modulePaths.map((path) => resolve(path))])];
  const result = await build({
    entryPoints: entries,
    outdir: dir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    outExtension: { '.js': '.mjs' },
    entryNames: '[name]-[hash]',
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'silent',
    // CommonJS dependencies (the AWS SDK) call require() for Node built-ins: ESM output needs one of its own
    // (the same banner serverless.yml gives the deployed bundles).
    banner: {
      js: "import { createRequire as __fxk3CreateRequire } from 'node:module'; const require = __fxk3CreateRequire(import.meta.url);",
    },
  });
  const outputOf = new Map<string, string>();
  for (const [output, meta] of Object.entries(result.metafile.outputs)) {
    if (!meta.entryPoint) continue;
    const source = isAbsolute(meta.entryPoint) ? meta.entryPoint : resolve(meta.entryPoint);
    outputOf.set(source, isAbsolute(output) ? output : resolve(output));
  }
  const find = (source: string): string => {
    const found = outputOf.get(resolve(source));
    if (!found) throw new Error(`esbuild wrote no bundle for ${relative(process.cwd(), source)}`);
    return found;
  };
  const modules = new Map(modulePaths.map((path) => [path, find(path)]));
  return {
    workerEntry: find(WORKER_ENTRY),
    modules,
    dir,
    buildMs: performance.now() - started,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Where a stack keeps its bundles: a directory of its own under the data directory. */
export function bundleDir(dataDir: string): string {
  return join(dataDir, '.functions');
}

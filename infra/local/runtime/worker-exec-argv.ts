/**
 * Node flags for the local runtime's worker threads (function containers, the DynamoDB engine).
 */

/**
 * The main thread's flags for a worker: keep the TypeScript loader (unless `typescript: false`, for a
 * bundled script), drop the test runner's and inspector's.
 */
export function workerExecArgv(options: { typescript?: boolean } = {}): string[] {
  const args: string[] = [];
  const source = process.execArgv;
  for (let i = 0; i < source.length; i++) {
    const arg = source[i] ?? '';
    if (arg.startsWith('--test') || arg.startsWith('--inspect') || arg.startsWith('--watch')) continue;
    if (options.typescript === false) {
      if ((arg === '--import' || arg === '--require') && /tsx/.test(source[i + 1] ?? '')) {
        i++;
        continue;
      }
      if (/^--(import|require)=.*tsx/.test(arg)) continue;
    }
    args.push(arg);
  }
  if (options.typescript === false) return args;
  const hasTsx =
    args.some((arg, i) => (arg === '--import' || arg === '--require') && /tsx/.test(args[i + 1] ?? '')) ||
    args.some((arg) => /^--(import|require)=.*tsx/.test(arg));
  if (!hasTsx) args.push('--import', 'tsx');
  return args;
}

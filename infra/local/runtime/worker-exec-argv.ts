/**
 * Node flags for the local runtime's worker threads (function containers, the DynamoDB engine).
 */

/** The main thread's flags for a worker: keep the TypeScript loader, drop the test runner's and inspector's. */
export function workerExecArgv(): string[] {
  const args: string[] = [];
  const source = process.execArgv;
  for (let i = 0; i < source.length; i++) {
    const arg = source[i] ?? '';
    if (arg.startsWith('--test') || arg.startsWith('--inspect') || arg.startsWith('--watch')) continue;
    args.push(arg);
  }
  const hasTsx =
    args.some((arg, i) => (arg === '--import' || arg === '--require') && /tsx/.test(args[i + 1] ?? '')) ||
    args.some((arg) => /^--(import|require)=.*tsx/.test(arg));
  if (!hasTsx) args.push('--import', 'tsx');
  return args;
}

/**
 * One CLI run against one deployment: the target (tables, queues, SQS/DynamoDB/SSM clients) and the sync
 * runtime built from it with the functions' own code (`configureRuntime` / `getRuntime`: settings from the
 * environment and SSM, the mapping config, the state stores, the K3Cloud and Fxiaoke clients sharing the
 * deployment's session, token and rate limiter).
 *
 * The runtime is a per-process singleton (lib/sync/runtime.ts): a CLI run owns it from `openSession` until
 * `close`, which resets it — the process is the CLI's, so nothing else uses it meanwhile.
 */
import { createLogger, type Logger } from '../lib/log.ts';
import { configureRuntime, getRuntime, resetRuntime, type SyncRuntime } from '../lib/sync/runtime.ts';
import type { GlobalOptions } from './args.ts';
import type { CliIo } from './io.ts';
import { type ResolveOptions, resolveTarget, type StackTarget } from './target.ts';

export interface CliSession {
  target: StackTarget;
  logger: Logger;
  clock: () => number;
  /**
   * The sync runtime (built on first call, then reused).
   *
   * @throws {ConfigError} naming every bad setting or config key; SettingsError when SSM cannot be read.
   */
  runtime(): Promise<SyncRuntime>;
  close(): Promise<void>;
}

/**
 * Find the deployment and prepare the runtime (built lazily, so `status` can report a broken config).
 *
 * @throws what {@link resolveTarget} throws.
 */
export async function openSession(
  global: GlobalOptions,
  io: CliIo,
  options: ResolveOptions = {},
): Promise<CliSession> {
  const target = await resolveTarget(global, io, options);
  const clock = io.clock ?? Date.now;
  // The sync's JSON log lines go to stderr, and only with --verbose (errors always).
  const logger = createLogger({
    level: global.verbose ? 'info' : 'error',
    write: (line) => io.stderr(`${line}\n`),
    base: { service: 'fxk3' },
  });
  let configured = false;
  let runtime: Promise<SyncRuntime> | undefined;
  return {
    target,
    logger,
    clock,
    async runtime() {
      if (!configured) {
        configured = true;
        await configureRuntime({
          env: target.runtimeEnv,
          dynamoClient: target.dynamo,
          sqsClient: target.sqs,
          ssmClient: target.ssm,
          logger,
          clock,
        });
      }
      runtime ??= getRuntime();
      try {
        return await runtime;
      } catch (error) {
        runtime = undefined;
        throw error;
      }
    },
    async close() {
      if (configured) await resetRuntime();
      target.close();
    },
  };
}

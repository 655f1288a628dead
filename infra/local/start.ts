/**
 * `npm start` — the whole sync on one machine: every function of serverless.yml with local stand-ins for
 * API Gateway, SQS, EventBridge, DynamoDB and SSM, and — when `K3CLOUD_SERVER_URL` / `FXIAOKE_BASE_URL` are
 * not set — the emulators of both vendors ("sandbox mode"). See docs/local-stack.md.
 *
 * Exit codes: 0 after a clean stop, 2 for settings or serverless.yml problems (one line each), 1 otherwise.
 */
import { fileURLToPath } from 'node:url';
import { ConfigError, SyncError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { startupBanner } from './runtime/banner.ts';
import { environmentWithDotEnv } from './runtime/dotenv.ts';
import { LocalRuntimeError } from './runtime/errors.ts';
import { type LocalSettings, readLocalSettings } from './runtime/local-settings.ts';
import { type LocalStack, startLocalStack } from './runtime/stack.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

function fail(error: unknown): never {
  if (error instanceof ConfigError || error instanceof LocalRuntimeError) {
    process.stderr.write(`\n本地运行时无法启动 / The local stack cannot start:\n${error.message}\n`);
    process.exit(2);
  }
  const message = error instanceof SyncError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`\n本地运行时启动失败 / The local stack failed to start: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  // Functions resolve relative paths (SYNC_CONFIG_PATH) from their task root, which is the repository here.
  process.chdir(root);
  let settings: LocalSettings;
  let env: Record<string, string | undefined>;
  let envFile: string | undefined;
  try {
    const loaded = environmentWithDotEnv(process.env, process.env.LOCAL_ENV_FILE ?? '.env');
    env = loaded.env;
    envFile = loaded.loadedFrom;
    settings = readLocalSettings(env, root);
  } catch (error) {
    fail(error);
  }
  const logger = createLogger({ base: { service: 'local-stack' } });
  let stack: LocalStack;
  try {
    stack = await startLocalStack({ settings, env, logger });
  } catch (error) {
    fail(error);
  }
  process.stdout.write(startupBanner(stack, settings, envFile));
  const loadingSince = performance.now();
  void stack.ready.then(() => {
    const seconds = ((performance.now() - loadingSince) / 1000).toFixed(1);
    const failed = [...stack.initErrors.entries()];
    process.stdout.write(
      failed.length === 0
        ? `✓ 就绪：${stack.invokers.size} 个函数已加载（${seconds} s）/ ready: ${stack.invokers.size} functions loaded (${seconds} s)\n`
        : `✗ ${failed.length} 个函数加载失败 / ${failed.length} function(s) failed to load:\n${failed.map(([key, error]) => `  ${key}: ${error}`).join('\n')}\n`,
    );
  });

  let signals = 0;
  const stop = (signal: string): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write('再次收到信号，立即退出 / second signal: exiting now\n');
      process.exit(130);
    }
    process.stdout.write(
      `正在停止（最多等待 ${settings.shutdownGraceMs} ms）/ stopping (waiting up to ${settings.shutdownGraceMs} ms)…\n`,
    );
    stack.stop(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('local.stack.stop_failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch(fail);

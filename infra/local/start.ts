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
  let stopping = false;
  const beginStop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(
      `正在停止（最多等待 ${settings.shutdownGraceMs} ms）/ stopping (waiting up to ${settings.shutdownGraceMs} ms)…\n`,
    );
    stack.stop(reason).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('local.stack.stop_failed', { error });
        process.exit(1);
      },
    );
  };
  // Only a second signal forces the exit (a second Ctrl-C), not a stop that began another way.
  const stop = (signal: string): void => {
    signals++;
    if (signals > 1) {
      process.stderr.write('再次收到信号，立即退出 / second signal: exiting now\n');
      process.exit(130);
    }
    beginStop(signal);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Under `npm start`, npm runs this through `sh -c`, and dash (Debian's sh) neither replaces itself with
  // node nor passes a SIGTERM on: a SIGTERM to npm alone — `docker stop`, a process manager, `kill <npm pid>`
  // — ends npm and sh and left this process running orphaned, holding the port and the data directory (seen:
  // the next `npm start` refused to start). So when the process that started us is gone, stop as for SIGTERM.
  // Checked twice a second (process.ppid is read anew each time); on Windows a parent's exit does not change
  // ppid, and Ctrl-C reaches every process there anyway.
  if (process.env.npm_lifecycle_event !== undefined) {
    const parent = process.ppid;
    const watch = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(watch);
      beginStop('parent-exited');
    }, 500);
    watch.unref();
  }
}

main().catch(fail);

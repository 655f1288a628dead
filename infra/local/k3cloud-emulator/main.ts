/**
 * `npm run emulator:k3cloud` — the K3Cloud emulator as a standalone server.
 *
 * Environment:
 *   K3CLOUD_EMULATOR_HOST          default 127.0.0.1
 *   K3CLOUD_EMULATOR_PORT          default 8090 (0 = any free port)
 *   K3CLOUD_EMULATOR_DATA_DIR      keep the ERP data here across restarts (default: memory only)
 *   K3CLOUD_EMULATOR_LATENCY_MS    added to every response (default 0)
 *   K3CLOUD_EMULATOR_SESSION_IDLE_MS  idle session lifetime (default 1 200 000 = 20 min)
 *   K3CLOUD_EMULATOR_CONTROL       `true`/`false`: serve `/__emulator/…` (default: on for a loopback host only)
 *   K3CLOUD_ACCT_ID, K3CLOUD_USERNAME, K3CLOUD_APP_ID, K3CLOUD_APP_SECRET, K3CLOUD_PASSWORD — the accepted
 *   identity, with the sandbox defaults of `lib/k3cloud/config.ts`, so one `.env` configures client and
 *   emulator; K3CLOUD_LOGIN_SIGN_ALGORITHM=sha1 makes it behave as a server older than 8.0.0.202205.
 */
import { z } from 'zod';
import { parseEnv } from '../../../lib/env.ts';
import { SyncError } from '../../../lib/errors.ts';
import { readK3CloudConfig } from '../../../lib/k3cloud/config.ts';
import { createLogger } from '../../../lib/log.ts';
import { identityOf } from './api.ts';
import {
  DEFAULT_K3CLOUD_EMULATOR_PORT,
  DEFAULT_SESSION_IDLE_TIMEOUT_MS,
  startK3CloudEmulator,
} from './server.ts';

const schema = z.object({
  K3CLOUD_EMULATOR_HOST: z.string().default('127.0.0.1'),
  K3CLOUD_EMULATOR_PORT: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_K3CLOUD_EMULATOR_PORT),
  K3CLOUD_EMULATOR_DATA_DIR: z.string().optional(),
  K3CLOUD_EMULATOR_LATENCY_MS: z.coerce.number().int().min(0).default(0),
  K3CLOUD_EMULATOR_SESSION_IDLE_MS: z.coerce
    .number()
    .int()
    .positive()
    .default(DEFAULT_SESSION_IDLE_TIMEOUT_MS),
  K3CLOUD_EMULATOR_CONTROL: z.enum(['true', 'false']).optional(),
});

/** The control endpoint can reset all data: serve it by default only on a loopback address. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

async function main(): Promise<void> {
  const logger = createLogger({ base: { component: 'k3cloud-emulator' } });
  const env = parseEnv(schema, process.env);
  const config = readK3CloudConfig(process.env, { sandbox: true });
  const emulator = await startK3CloudEmulator({
    host: env.K3CLOUD_EMULATOR_HOST,
    port: env.K3CLOUD_EMULATOR_PORT,
    identity: identityOf(config),
    ...(env.K3CLOUD_EMULATOR_DATA_DIR ? { dataDir: env.K3CLOUD_EMULATOR_DATA_DIR } : {}),
    latencyMs: env.K3CLOUD_EMULATOR_LATENCY_MS,
    sessionIdleTimeoutMs: env.K3CLOUD_EMULATOR_SESSION_IDLE_MS,
    controlEnabled:
      (env.K3CLOUD_EMULATOR_CONTROL ?? String(isLoopback(env.K3CLOUD_EMULATOR_HOST))) === 'true',
    loginSignAlgorithms: [config.loginSignAlgorithm],
    logger,
  });
  // One banner line: where, and who may log in (never a secret).
  process.stdout.write(
    `K3Cloud 模拟器已启动 / emulator listening: ${emulator.url}  acctID=${config.acctId}  user=${config.username}` +
      `${env.K3CLOUD_EMULATOR_DATA_DIR ? `  data=${env.K3CLOUD_EMULATOR_DATA_DIR}` : '  data=memory'}\n`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('k3cloud_emulator.signal', { signal });
    emulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('k3cloud_emulator.close_failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  const message = error instanceof SyncError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`K3Cloud 模拟器启动失败 / emulator failed to start:\n${message}\n`);
  process.exit(1);
});

/**
 * The local queue service for tests: engine + HTTP server on a free loopback port + a real SDK client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { RuntimeClock } from '../../../infra/local/runtime/clock.ts';
import { QueueEngine } from '../../../infra/local/runtime/sqs/queue-engine.ts';
import { type SqsServer, startSqsServer } from '../../../infra/local/runtime/sqs/sqs-server.ts';

export const FAKE_CREDENTIALS = {
  accessKeyId: 'AKIAFAKEFAKEFAKEFAKE',
  secretAccessKey: 'fake-secret-not-real',
};

export interface LocalSqs {
  engine: QueueEngine;
  server: SqsServer;
  client: SQSClient;
  close(): Promise<void>;
}

export async function startLocalSqs(
  options: { clock?: RuntimeClock; dataDir?: string } = {},
): Promise<LocalSqs> {
  const engine = new QueueEngine({
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  const server = await startSqsServer({ engine });
  const client = new SQSClient({ endpoint: server.url, region: 'us-east-1', credentials: FAKE_CREDENTIALS });
  return {
    engine,
    server,
    client,
    async close() {
      client.destroy();
      await server.close();
      engine.close();
    },
  };
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `fxk3-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

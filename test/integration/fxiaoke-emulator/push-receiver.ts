/**
 * A tiny change-push receiver for the emulator tests: verifies every push with `openPush` (signature,
 * decryption, enterprise account, replay window) and answers the encrypted `success` — or fails on purpose.
 */
import { createServer, type Server } from 'node:http';
import { buildPushReply, type CrmChangeEvent, openPush } from '../../../lib/fxiaoke/push-crypto.ts';

export type ReceiverMode = 'encrypted-success' | 'plain-success' | 'http-500' | 'wrong-body' | 'no-answer';

export interface ReceivedPush {
  event: CrmChangeEvent;
  body: Record<string, unknown>;
}

export interface PushReceiver {
  url: string;
  received: ReceivedPush[];
  /** Bodies that failed verification (should stay empty). */
  rejected: string[];
  /** Answer mode per delivery: the first entries are used in order, then `fallback`. */
  script: ReceiverMode[];
  fallback: ReceiverMode;
  close(): Promise<void>;
}

export async function startPushReceiver(options: {
  aesKey: string;
  enterpriseAccount: string;
  now: () => number;
}): Promise<PushReceiver> {
  const received: ReceivedPush[] = [];
  const rejected: string[] = [];
  const receiver: Omit<PushReceiver, 'url' | 'close'> = {
    received,
    rejected,
    script: [],
    fallback: 'encrypted-success',
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      try {
        const body: unknown = JSON.parse(raw);
        const event = openPush(body, {
          aesKey: options.aesKey,
          enterpriseAccount: options.enterpriseAccount,
          maxAgeMs: 15 * 60_000,
          now: options.now(),
        });
        received.push({ event, body: Object.fromEntries(Object.entries(body ?? {})) });
      } catch (error) {
        rejected.push(`${String(error)}: ${raw.slice(0, 200)}`);
      }
      const mode = receiver.script.shift() ?? receiver.fallback;
      if (mode === 'no-answer') return; // hold the request open: the emulator's timeout must fire
      if (mode === 'http-500') {
        res.writeHead(500).end('boom');
      } else if (mode === 'wrong-body') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"result":"ok"}');
      } else if (mode === 'plain-success') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('success');
      } else {
        const reply = buildPushReply(options.aesKey, { timestamp: options.now() });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}/webhooks/fxiaoke`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

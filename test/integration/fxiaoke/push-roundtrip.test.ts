import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import type { CrmChangeEvent } from '../../../lib/fxiaoke/push-crypto.ts';
import {
  type PushReceiveResult,
  type PushReceiverConfig,
  receiveFxiaokePush,
} from '../../../lib/fxiaoke/push-receiver.ts';
import { clientFor, IDENTITY, type ManualClock, manualClock, startEmulator } from './emulator-harness.ts';

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** A webhook endpoint as thin as the Lambda will be: raw request in, `receiveFxiaokePush`, reply out. */
async function startWebhook(config: PushReceiverConfig, clock: ManualClock) {
  const results: PushReceiveResult[] = [];
  const server: Server = createServer(async (request, response) => {
    const rawBody = await readBody(request);
    const result = receiveFxiaokePush(
      { method: request.method ?? '', headers: request.headers, rawBody },
      config,
      clock.now(),
    );
    results.push(result);
    if (result.ok) {
      response
        .writeHead(result.reply.status, { 'content-type': result.reply.contentType })
        .end(result.reply.body);
    } else {
      response.writeHead(result.status, { 'content-type': result.contentType }).end(result.body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/fxiaoke`,
    results,
    events: (): CrmChangeEvent[] => results.flatMap((r) => (r.ok ? [r.event] : [])),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const receiverConfig: PushReceiverConfig = {
  aesKey: IDENTITY.aesKey,
  enterpriseAccount: IDENTITY.enterpriseAccount,
  pushMaxAgeMs: 15 * 60_000,
};

describe('change push: emulator (signer) → receiver → client re-read', () => {
  let clock: ManualClock;
  let emulator: FxiaokeEmulator;

  before(async () => {
    clock = manualClock();
    emulator = await startEmulator(clock, { pushRetryDelaysMs: [5, 5] });
  });
  after(() => emulator.close());

  it('a salesperson’s edit arrives as a verified event, is acknowledged, and re-reads to the new data', async () => {
    const webhook = await startWebhook(receiverConfig, clock);
    const client = clientFor(emulator, 'legacy', clock);
    try {
      emulator.setCallbackUrls([webhook.url]);
      emulator.resetStats();
      const { dataId } = await emulator.edit({ apiName: 'AccountObj', fields: { name: '推送测试客户' } });
      await emulator.edit({ apiName: 'AccountObj', id: dataId, fields: { tel: '010-12345678' } });
      await emulator.pushesSettled();

      const events = webhook.events();
      assert.equal(events.length, 2);
      for (const event of events) {
        assert.equal(event.apiName, 'AccountObj');
        assert.equal(event.dataId, dataId);
        assert.equal(event.via, 'push');
        assert.equal(event.tenantId, '590163');
      }
      assert.equal(new Set(events.map((e) => e.messageId)).size, 2, 'one messageId per change');
      const stats = emulator.stats().pushes;
      assert.equal(stats.acknowledged, 2, 'the encrypted "success" reply is accepted by the sender');
      assert.equal(stats.abandoned, 0);

      // events are thin: the consumer re-reads in one batched call
      const records = await client.getMany(
        'AccountObj',
        events.map((e) => e.dataId),
      );
      assert.equal(records.get(dataId)?.tel, '010-12345678');
    } finally {
      emulator.setCallbackUrls([]);
      await client.close();
      await webhook.close();
    }
  });

  it('a receiver with the wrong key rejects every delivery (401) and the sender gives up after its retries', async () => {
    const webhook = await startWebhook(
      { ...receiverConfig, aesKey: Buffer.alloc(32, 1).toString('base64') },
      clock,
    );
    try {
      emulator.setCallbackUrls([webhook.url]);
      emulator.resetStats();
      await emulator.edit({ apiName: 'AccountObj', fields: { name: '错误密钥' } });
      await emulator.pushesSettled();
      assert.ok(webhook.results.length >= 1);
      for (const result of webhook.results) {
        assert.equal(result.ok, false);
        if (!result.ok) {
          assert.equal(result.status, 401);
          assert.equal(result.code, 'PUSH_BAD_SIGNATURE');
        }
      }
      const stats = emulator.stats().pushes;
      assert.equal(stats.acknowledged, 0);
      assert.equal(stats.abandoned, 1);
    } finally {
      emulator.setCallbackUrls([]);
      await webhook.close();
    }
  });

  it('a receiver for another enterprise account refuses the push', async () => {
    const webhook = await startWebhook({ ...receiverConfig, enterpriseAccount: 'someone-else' }, clock);
    try {
      emulator.setCallbackUrls([webhook.url]);
      await emulator.edit({ apiName: 'AccountObj', fields: { name: '别家企业' } });
      await emulator.pushesSettled();
      const codes = webhook.results.map((r) => (r.ok ? 'ok' : r.code));
      assert.ok(codes.length >= 1);
      assert.ok(codes.every((c) => c === 'PUSH_WRONG_ENTERPRISE'));
    } finally {
      emulator.setCallbackUrls([]);
      await webhook.close();
    }
  });
});

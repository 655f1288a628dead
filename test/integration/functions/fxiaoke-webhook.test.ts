/**
 * The webhook function (`functions/fxiaoke-webhook.ts`) with API Gateway HTTP API (payload 2.0) events:
 * what reaches a queue, with which FIFO ids, and what every kind of bad input gets back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FXIAOKE_SANDBOX_IDENTITY } from '../../../lib/fxiaoke/config.ts';
import { isSuccessReply, signAplBody } from '../../../lib/fxiaoke/push-crypto.ts';
import { warmUp } from '../../../lib/sync/handlers.ts';
import { pushBody, SyncStack } from '../sync/harness.ts';

const AES_KEY = FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_AES_KEY;
const OTHER_AES_KEY = Buffer.alloc(32, 7).toString('base64');

describe('fxiaoke-webhook handler', () => {
  let stack: SyncStack;
  before(async () => {
    stack = await SyncStack.start();
  });
  after(async () => {
    await stack?.close();
  });
  /** The messages queued for the account flow since the last call (taken off the queue). */
  function queued() {
    const name = stack.queueName('accountToCustomer');
    const received = stack.sqsEngine.receiveNow(name, { maxMessages: 10 });
    for (const r of received) stack.sqsEngine.delete(name, r.receiptHandle);
    return received.map((r) => ({
      groupId: r.message.groupId,
      dedupId: r.message.dedupId,
      body: JSON.parse(r.message.body),
    }));
  }

  function errorOf(body: string | undefined): { error: string; message: string } {
    const parsed = JSON.parse(body ?? '{}');
    assert.equal(typeof parsed.error, 'string');
    assert.equal(typeof parsed.message, 'string');
    return parsed;
  }

  it('queues a verified push for its flow (group apiName:dataId, dedup messageId) and answers the encrypted success', async () => {
    const body = pushBody('AccountObj', 'acc-1001', { messageId: 'MSG-WEBHOOK-0001' });
    const reply = await stack.push(body);
    assert.equal(reply.statusCode, 200);
    assert.ok(isSuccessReply(reply.body ?? '', AES_KEY), 'the reply is Fxiaoke’s encrypted "success"');
    const [message, ...rest] = queued();
    assert.equal(rest.length, 0);
    assert.equal(message?.groupId, 'AccountObj:acc-1001');
    assert.equal(message?.dedupId, 'MSG-WEBHOOK-0001');
    assert.equal(message?.body.kind, 'change');
    assert.equal(message?.body.dataId, 'acc-1001');
    const inbox = await (await stack.runtime()).state.inbox.get('MSG-WEBHOOK-0001');
    // Recorded, and listed for the coalescing re-read; it stays `received` until the flow is done with it.
    assert.equal(inbox?.state, 'received');
    assert.equal(inbox?.pendingReadApiName, 'AccountObj');
  });

  it('acknowledges a redelivery without queueing it twice (the FIFO deduplication id is the messageId)', async () => {
    const first = pushBody('AccountObj', 'acc-1002', { messageId: 'MSG-WEBHOOK-0002' });
    const again = pushBody('AccountObj', 'acc-1002', { messageId: 'MSG-WEBHOOK-0002', retryTimes: 1 });
    assert.equal((await stack.push(first)).statusCode, 200);
    const reply = await stack.push(again);
    assert.equal(reply.statusCode, 200);
    assert.ok(isSuccessReply(reply.body ?? '', AES_KEY));
    assert.equal(queued().length, 1);
    assert.equal((await (await stack.runtime()).state.inbox.get('MSG-WEBHOOK-0002'))?.deliveries, 2);
  });

  it('acknowledges a redelivery of an event already processed without queueing it', async () => {
    const runtime = await stack.runtime();
    assert.equal(
      (await stack.push(pushBody('AccountObj', 'acc-1006', { messageId: 'MSG-WEBHOOK-0006' }))).statusCode,
      200,
    );
    assert.equal(queued().length, 1);
    assert.equal(await runtime.state.inbox.markDone('MSG-WEBHOOK-0006', 'processed'), true);
    const reply = await stack.push(
      pushBody('AccountObj', 'acc-1006', { messageId: 'MSG-WEBHOOK-0006', retryTimes: 1 }),
    );
    assert.equal(reply.statusCode, 200);
    assert.equal(queued().length, 0);
  });

  it('queues again an event recorded earlier but never queued (a crash between inbox and queue)', async () => {
    const runtime = await stack.runtime();
    await runtime.state.inbox.recordIfNew({
      messageId: 'MSG-WEBHOOK-0003',
      apiName: 'AccountObj',
      dataId: 'acc-1003',
      eventType: 'update',
    });
    const reply = await stack.push(
      pushBody('AccountObj', 'acc-1003', { messageId: 'MSG-WEBHOOK-0003', retryTimes: 1 }),
    );
    assert.equal(reply.statusCode, 200);
    assert.equal(queued().length, 1);
    assert.equal((await runtime.state.inbox.get('MSG-WEBHOOK-0003'))?.deliveries, 2);
  });

  it('reads a base64-encoded body (API Gateway’s isBase64Encoded)', async () => {
    const body = Buffer.from(pushBody('AccountObj', 'acc-1004')).toString('base64');
    const reply = await stack.push(body, { isBase64Encoded: true });
    assert.equal(reply.statusCode, 200);
    assert.equal(queued().length, 1);
  });

  it('acknowledges an object no enabled flow maps, logs it as ignored, and queues nothing', async () => {
    const reply = await stack.push(pushBody('ContactObj', 'contact-1', { messageId: 'MSG-WEBHOOK-IGNORED' }));
    assert.equal(reply.statusCode, 200);
    assert.ok(isSuccessReply(reply.body ?? '', AES_KEY));
    assert.equal(queued().length, 0);
    assert.ok(
      stack.logEvents('sync.webhook.ignored').some((line) => line.messageId === 'MSG-WEBHOOK-IGNORED'),
    );
  });

  it('refuses forged, undecryptable, malformed, oversized and non-POST requests with a short reason, queueing nothing', async () => {
    const genuine = JSON.parse(pushBody('AccountObj', 'acc-bad'));
    const forged = await stack.push(JSON.stringify({ ...genuine, signature: 'f'.repeat(40) }));
    assert.equal(forged.statusCode, 401);
    assert.equal(errorOf(forged.body).error, 'PUSH_BAD_SIGNATURE');

    const wrongKey = await stack.push(pushBody('AccountObj', 'acc-bad', { aesKey: OTHER_AES_KEY }));
    assert.equal(wrongKey.statusCode, 401, 'signed and encrypted with another key');

    const notJson = await stack.push('this is not json');
    assert.equal(notJson.statusCode, 400);
    assert.equal(errorOf(notJson.body).error, 'PUSH_MALFORMED');
    const missing = await stack.push(JSON.stringify({ signature: genuine.signature }));
    assert.equal(missing.statusCode, 400);

    const huge = await stack.push(JSON.stringify({ padding: 'x'.repeat(70 * 1024) }));
    assert.equal(huge.statusCode, 413);
    assert.equal(errorOf(huge.body).error, 'PUSH_TOO_LARGE');

    const get = await stack.push('', { method: 'GET' });
    assert.equal(get.statusCode, 405);

    for (const reply of [forged, wrongKey, notJson, missing, huge, get]) {
      assert.ok((reply.body ?? '').length < 400, 'short');
      assert.ok(!(reply.body ?? '').includes(AES_KEY), 'no secret in a reply');
    }
    assert.equal(queued().length, 0);
  });

  it('accepts the HMAC-signed APL variant with the configured secret, and refuses tampered or foreign signatures', async () => {
    const event = JSON.stringify({
      tenantId: '590163',
      apiName: 'AccountObj',
      dataId: 'acc-apl-1',
      eventType: 'update',
      timestamp: Date.now(),
      messageId: 'APL-0001',
    });
    const secret = FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APL_HMAC_SECRET;
    const headers = { 'x-fxk3-signature': signAplBody(event, secret) };
    await stack.reconfigure({ FXIAOKE_APL_HMAC_SECRET: secret });
    const accepted = await stack.push(event, { headers });
    assert.equal(accepted.statusCode, 200);
    assert.deepEqual(JSON.parse(accepted.body ?? '{}'), { ok: true, messageId: 'APL-0001' });
    assert.equal(queued().length, 1);

    const tampered = await stack.push(event.replace('acc-apl-1', 'acc-apl-2'), { headers });
    assert.equal(tampered.statusCode, 401);
    const otherSecret = await stack.push(event, {
      headers: { 'x-fxk3-signature': signAplBody(event, 'another-secret-of-16+chars') },
    });
    assert.equal(otherSecret.statusCode, 401);
    assert.equal(errorOf(otherSecret.body).error, 'PUSH_BAD_SIGNATURE');
    assert.equal(queued().length, 0);
  });

  it('answers 500 when the queue is unavailable, so Fxiaoke redelivers; the redelivery is queued', async () => {
    const url = stack.env.SYNC_QUEUE_URL_ACCOUNT_TO_CUSTOMER ?? '';
    await stack.reconfigure({ SYNC_QUEUE_URL_ACCOUNT_TO_CUSTOMER: url.replace('.fifo', '-missing.fifo') });
    const down = await stack.push(pushBody('AccountObj', 'acc-1005', { messageId: 'MSG-WEBHOOK-0005' }));
    assert.equal(down.statusCode, 500);
    assert.equal(errorOf(down.body).error, 'WEBHOOK_UNAVAILABLE');
    assert.equal((await (await stack.runtime()).state.inbox.get('MSG-WEBHOOK-0005'))?.state, 'received');

    await stack.reconfigure({ SYNC_QUEUE_URL_ACCOUNT_TO_CUSTOMER: url });
    const redelivered = await stack.push(
      pushBody('AccountObj', 'acc-1005', { messageId: 'MSG-WEBHOOK-0005', retryTimes: 1 }),
    );
    assert.equal(redelivered.statusCode, 200);
    assert.equal(queued().length, 1);
  });

  it('answers 500 with a short reason when its settings are broken (the log names the variable)', async () => {
    const aes = stack.env.FXIAOKE_AES_KEY;
    await stack.reconfigure({ FXIAOKE_AES_KEY: 'not-a-key' });
    try {
      const reply = await stack.push(pushBody('AccountObj', 'acc-1006'));
      assert.equal(reply.statusCode, 500);
      assert.equal(errorOf(reply.body).error, 'WEBHOOK_MISCONFIGURED');
      const line = JSON.stringify(stack.logEvents('sync.webhook.misconfigured').at(-1));
      assert.match(line, /FXIAOKE_AES_KEY/);
      assert.ok(!line.includes('not-a-key'), 'the bad secret value is not logged');
    } finally {
      await stack.reconfigure({ FXIAOKE_AES_KEY: aes ?? '' });
    }
  });

  it('records and queues a first delivery at once; when the inbox write fails it answers 500, and the redelivery is recorded while the queue keeps one copy', async () => {
    const inboxTable = stack.env.STATE_TABLE_INBOX ?? '';
    await stack.reconfigure({ STATE_TABLE_INBOX: `${inboxTable}-missing` });
    const down = await stack.push(pushBody('AccountObj', 'acc-1007', { messageId: 'MSG-WEBHOOK-0007' }));
    assert.equal(down.statusCode, 500);
    assert.equal(errorOf(down.body).error, 'WEBHOOK_UNAVAILABLE');
    // Sent beside the failed inbox write, not after it: the first delivery never waits for the inbox.
    const first = queued();
    assert.equal(first.length, 1);
    assert.equal(first[0]?.dedupId, 'MSG-WEBHOOK-0007');

    await stack.reconfigure({ STATE_TABLE_INBOX: inboxTable });
    const redelivered = await stack.push(
      pushBody('AccountObj', 'acc-1007', { messageId: 'MSG-WEBHOOK-0007', retryTimes: 1 }),
    );
    assert.equal(redelivered.statusCode, 200);
    const entry = await (await stack.runtime()).state.inbox.get('MSG-WEBHOOK-0007');
    assert.equal(entry?.state, 'received');
    assert.equal(entry?.pendingReadApiName, 'AccountObj');
    assert.equal(queued().length, 0, 'the FIFO deduplication id (the messageId) keeps one copy');
  });

  it('warms up in the init phase only inside a Lambda container, and never fails the init', async () => {
    await stack.reconfigure({});
    const before = stack.logEvents('sync.runtime.ready').length;
    const built = () => stack.logEvents('sync.runtime.ready').length - before;
    await warmUp({});
    assert.equal(built(), 0, 'outside a container (no AWS_LAMBDA_FUNCTION_NAME) nothing is built');
    await warmUp({ AWS_LAMBDA_FUNCTION_NAME: 'fxiaoke-webhook' });
    assert.equal(built(), 1, 'the runtime is built before the first push');

    const configPath = stack.env.SYNC_CONFIG_PATH ?? '';
    await stack.reconfigure({ SYNC_CONFIG_PATH: '/nonexistent/sync.yaml' });
    try {
      await warmUp({ AWS_LAMBDA_FUNCTION_NAME: 'fxiaoke-webhook' });
      const reply = await stack.push(pushBody('AccountObj', 'acc-1008'));
      assert.equal(reply.statusCode, 500, 'the broken setting is reported by the first invocation');
      assert.equal(errorOf(reply.body).error, 'WEBHOOK_MISCONFIGURED');
    } finally {
      await stack.reconfigure({ SYNC_CONFIG_PATH: configPath });
    }
  });
});

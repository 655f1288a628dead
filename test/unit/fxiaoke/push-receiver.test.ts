import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { buildPushRequest, isSuccessReply, signAplBody, signPush } from '../../../lib/fxiaoke/push-crypto.ts';
import {
  DEFAULT_PUSH_MAX_BODY_BYTES,
  type PushReceiveResult,
  type PushReceiverConfig,
  receiveFxiaokePush,
} from '../../../lib/fxiaoke/push-receiver.ts';

const vector = z
  .object({
    aesKey: z.string(),
    body: z.object({
      signature: z.string(),
      timestamp: z.number(),
      nonce: z.string(),
      messageId: z.string(),
      retryTimes: z.number(),
      enterpriseAccount: z.string(),
      encryptedContent: z.string(),
    }),
  })
  .parse(
    JSON.parse(
      readFileSync(new URL('../../fixtures/fxiaoke/official-push-vector.json', import.meta.url), 'utf8'),
    ),
  );

const APL_SECRET = 'unit-apl-hmac-secret-not-real';
const NOW = vector.body.timestamp + 2_000;
const config: PushReceiverConfig = {
  aesKey: vector.aesKey,
  enterpriseAccount: 'gxcxkj',
  aplHmacSecret: APL_SECRET,
  pushMaxAgeMs: 15 * 60_000,
};

const post = (rawBody: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => ({
  method: 'POST',
  headers,
  rawBody,
});

function rejected(result: PushReceiveResult): Extract<PushReceiveResult, { ok: false }> {
  assert.equal(result.ok, false, 'expected a rejection');
  if (result.ok) throw new Error('unreachable');
  const parsed = z.object({ error: z.string(), message: z.string() }).parse(JSON.parse(result.body));
  assert.equal(parsed.error, result.code);
  assert.ok(result.reason.length > 0 && result.reason.length < 300, 'a short reason');
  return result;
}

function aplBody(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    tenantId: '590163',
    apiName: 'AccountObj',
    dataId: 'acc-1',
    eventType: 'update',
    timestamp: NOW - 1_000,
    messageId: 'apl-0001',
    ...overrides,
  });
}

describe('receiveFxiaokePush', () => {
  describe('platform push (事件变更订阅)', () => {
    it('accepts the official vector and answers the signed, encrypted "success"', () => {
      const result = receiveFxiaokePush(post(JSON.stringify(vector.body)), config, NOW);
      assert.ok(result.ok);
      assert.deepEqual(result.event, {
        messageId: 'AC11291700002A9F00000608C038697A0',
        tenantId: '691413',
        apiName: 'AccountObj',
        dataId: '5f9cd4e6e4400e0001217faa',
        eventType: 'update',
        changedAtMs: 1604644208525,
        retryTimes: 1,
        via: 'push',
      });
      assert.equal(result.reply.status, 200);
      assert.match(result.reply.contentType, /application\/json/);
      assert.equal(isSuccessReply(result.reply.body, vector.aesKey), true);
    });

    it('forged signature → 401 PUSH_BAD_SIGNATURE', () => {
      const result = rejected(
        receiveFxiaokePush(post(JSON.stringify({ ...vector.body, signature: '0'.repeat(40) })), config, NOW),
      );
      assert.equal(result.status, 401);
      assert.equal(result.code, 'PUSH_BAD_SIGNATURE');
    });

    it('a push made with another key → 401 PUSH_BAD_SIGNATURE', () => {
      const result = rejected(
        receiveFxiaokePush(
          post(JSON.stringify(vector.body)),
          { ...config, aesKey: Buffer.alloc(32, 9).toString('base64') },
          NOW,
        ),
      );
      assert.equal(result.status, 401);
      assert.equal(result.code, 'PUSH_BAD_SIGNATURE');
    });

    it('another enterprise account → 401 PUSH_WRONG_ENTERPRISE', () => {
      const result = rejected(
        receiveFxiaokePush(
          post(JSON.stringify(vector.body)),
          { ...config, enterpriseAccount: 'ours01' },
          NOW,
        ),
      );
      assert.equal(result.status, 401);
      assert.equal(result.code, 'PUSH_WRONG_ENTERPRISE');
    });

    it('a replayed old push (timestamp outside the window) → 401 PUSH_STALE', () => {
      const result = rejected(
        receiveFxiaokePush(post(JSON.stringify(vector.body)), config, NOW + 60 * 60_000),
      );
      assert.equal(result.status, 401);
      assert.equal(result.code, 'PUSH_STALE');
    });

    it('truncated ciphertext (correctly signed) → 401 PUSH_UNDECRYPTABLE', () => {
      const encryptedContent = vector.body.encryptedContent.slice(0, 60);
      const body = { ...vector.body, encryptedContent };
      const result = rejected(
        receiveFxiaokePush(
          post(JSON.stringify({ ...body, signature: signPush(body, vector.aesKey) })),
          config,
          NOW,
        ),
      );
      assert.equal(result.status, 401);
      assert.equal(result.code, 'PUSH_UNDECRYPTABLE');
    });

    it('non-JSON and wrongly shaped bodies → 400 PUSH_MALFORMED', () => {
      for (const raw of ['', 'signature=abc&timestamp=1', '{"signature":', '[1,2]', 'null', '{}']) {
        const result = rejected(receiveFxiaokePush(post(raw), config, NOW));
        assert.equal(result.status, 400, raw);
        assert.equal(result.code, 'PUSH_MALFORMED', raw);
      }
    });

    it('a tenant check refuses events of another ei when configured', () => {
      const result = rejected(
        receiveFxiaokePush(post(JSON.stringify(vector.body)), { ...config, tenantId: '590163' }, NOW),
      );
      assert.equal(result.status, 401);
      assert.equal(result.code, 'PUSH_WRONG_TENANT');
    });

    it('a round trip through buildPushRequest is accepted, without retryTimes on a first delivery', () => {
      const body = buildPushRequest(
        {
          tenantId: 590163,
          eventType: 'add',
          apiName: 'object_x1__c',
          dataId: 'd1',
          timestamp: NOW - 50,
          messageId: 'M-1',
        },
        { aesKey: vector.aesKey, enterpriseAccount: 'gxcxkj', timestamp: NOW },
      );
      const result = receiveFxiaokePush(post(JSON.stringify(body)), config, NOW);
      assert.ok(result.ok);
      assert.equal(result.event.retryTimes, 0);
      assert.equal(result.event.eventType, 'add');
    });
  });

  describe('APL variant (x-fxk3-signature)', () => {
    it('accepts a correctly signed body, whatever the header case', () => {
      const raw = aplBody();
      const result = receiveFxiaokePush(
        post(raw, { 'X-Fxk3-Signature': signAplBody(raw, APL_SECRET) }),
        config,
        NOW,
      );
      assert.ok(result.ok);
      assert.equal(result.event.via, 'apl');
      assert.equal(result.event.dataId, 'acc-1');
      assert.deepEqual(JSON.parse(result.reply.body), { ok: true, messageId: 'apl-0001' });
    });

    it('accepts what the documented APL snippet sends: Fx.json.toJson body, upper-case hex from Fx.crypto.hex', () => {
      // Fx.json.toJson keeps the map's insertion order and writes no spaces; the hex case is not documented.
      const raw =
        '{"tenantId":"590163","apiName":"SalesOrderObj","dataId":"so-1","eventType":"update","timestamp":' +
        String(NOW - 59_000) +
        ',"messageId":"3f2b1c9e-8d7a-4e6f-9a1b-2c3d4e5f6a7b"}';
      const upper = `sha256=${signAplBody(raw, APL_SECRET).slice('sha256='.length).toUpperCase()}`;
      const result = receiveFxiaokePush(
        post(raw, { 'content-type': 'application/json; charset=utf-8', 'x-fxk3-signature': upper }),
        config,
        NOW,
      );
      assert.ok(result.ok);
      assert.equal(result.event.apiName, 'SalesOrderObj');
      assert.equal(result.event.changedAtMs, NOW - 59_000);
    });

    it('forged signature or wrong secret → 401 PUSH_BAD_SIGNATURE', () => {
      const raw = aplBody();
      for (const signature of [
        `sha256=${'0'.repeat(64)}`,
        signAplBody(raw, 'another-secret-123456'),
        'garbage',
      ]) {
        const result = rejected(
          receiveFxiaokePush(post(raw, { 'x-fxk3-signature': signature }), config, NOW),
        );
        assert.equal(result.status, 401);
        assert.equal(result.code, 'PUSH_BAD_SIGNATURE');
      }
    });

    it('a body changed after signing → 401 PUSH_BAD_SIGNATURE', () => {
      const raw = aplBody();
      const tampered = raw.replace('acc-1', 'acc-2');
      const result = rejected(
        receiveFxiaokePush(post(tampered, { 'x-fxk3-signature': signAplBody(raw, APL_SECRET) }), config, NOW),
      );
      assert.equal(result.code, 'PUSH_BAD_SIGNATURE');
    });

    it('replayed old timestamp → 401 PUSH_STALE', () => {
      const raw = aplBody({ timestamp: NOW - 20 * 60_000 });
      const result = rejected(
        receiveFxiaokePush(post(raw, { 'x-fxk3-signature': signAplBody(raw, APL_SECRET) }), config, NOW),
      );
      assert.equal(result.code, 'PUSH_STALE');
    });

    it('signed non-JSON or incomplete JSON → 400 PUSH_MALFORMED', () => {
      for (const raw of ['not json', '{"tenantId":"1"}']) {
        const result = rejected(
          receiveFxiaokePush(post(raw, { 'x-fxk3-signature': signAplBody(raw, APL_SECRET) }), config, NOW),
        );
        assert.equal(result.status, 400, raw);
        assert.equal(result.code, 'PUSH_MALFORMED', raw);
      }
    });

    it('APL requests are refused while FXIAOKE_APL_HMAC_SECRET is not set', () => {
      const raw = aplBody();
      const result = rejected(
        receiveFxiaokePush(
          post(raw, { 'x-fxk3-signature': signAplBody(raw, APL_SECRET) }),
          { ...config, aplHmacSecret: undefined },
          NOW,
        ),
      );
      assert.equal(result.status, 401);
      assert.equal(result.code, 'PUSH_APL_DISABLED');
    });

    it('the tenant check applies to APL events', () => {
      const raw = aplBody({ tenantId: 111 });
      const result = rejected(
        receiveFxiaokePush(
          post(raw, { 'x-fxk3-signature': signAplBody(raw, APL_SECRET) }),
          { ...config, tenantId: '590163' },
          NOW,
        ),
      );
      assert.equal(result.code, 'PUSH_WRONG_TENANT');
    });
  });

  describe('transport-level refusals', () => {
    it('oversized bodies → 413 before any parsing (default 64 KiB, configurable; declared length counts too)', () => {
      const big = JSON.stringify({ ...vector.body, padding: 'x'.repeat(DEFAULT_PUSH_MAX_BODY_BYTES) });
      assert.equal(rejected(receiveFxiaokePush(post(big), config, NOW)).status, 413);
      const small = JSON.stringify(vector.body);
      assert.equal(
        rejected(receiveFxiaokePush(post(small), { ...config, maxBodyBytes: 100 }, NOW)).status,
        413,
      );
      const declared = rejected(
        receiveFxiaokePush(post(small, { 'content-length': String(10 * 1024 * 1024) }), config, NOW),
      );
      assert.equal(declared.status, 413);
      assert.equal(declared.code, 'PUSH_TOO_LARGE');
      const multibyte = '中'.repeat(30_000); // 90 000 bytes in UTF-8, 30 000 characters
      assert.equal(rejected(receiveFxiaokePush(post(multibyte), config, NOW)).status, 413);
    });

    it('a method other than POST → 405', () => {
      const result = rejected(receiveFxiaokePush({ method: 'GET', headers: {}, rawBody: '' }, config, NOW));
      assert.equal(result.status, 405);
    });

    it('a broken receiver configuration → 500, never an exception', () => {
      const result = rejected(
        receiveFxiaokePush(post(JSON.stringify(vector.body)), { ...config, aesKey: 'too-short' }, NOW),
      );
      assert.equal(result.status, 500);
      assert.equal(result.code, 'PUSH_RECEIVER_MISCONFIGURED');
    });

    it('never throws, whatever it is given', () => {
      const odd: unknown[] = [undefined, null, 42, {}, { method: 'POST' }, { method: 'POST', headers: null }];
      for (const request of odd) {
        assert.doesNotThrow(() =>
          receiveFxiaokePush(request as Parameters<typeof receiveFxiaokePush>[0], config, NOW),
        );
      }
    });
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  APL_SIGNATURE_HEADER,
  buildPushReply,
  buildPushRequest,
  decryptPushContent,
  isSuccessReply,
  openAplPush,
  openPush,
  PushRejectedError,
  signAplBody,
  signPush,
} from '../../../lib/fxiaoke/push-crypto.ts';

const vector = JSON.parse(
  readFileSync(new URL('../../fixtures/fxiaoke/official-push-vector.json', import.meta.url), 'utf8'),
) as {
  aesKey: string;
  body: {
    signature: string;
    timestamp: number;
    nonce: string;
    messageId: string;
    retryTimes: number;
    enterpriseAccount: string;
    encryptedContent: string;
  };
  signatureWithoutRetryTimes: string;
  plaintext: string;
  reply: { timestamp: number; nonce: string; encryptedResult: string; signature: string };
};

const open = (body: unknown, overrides: Partial<Parameters<typeof openPush>[1]> = {}) =>
  openPush(body, {
    aesKey: vector.aesKey,
    enterpriseAccount: 'gxcxkj',
    maxAgeMs: 15 * 60_000,
    now: vector.body.timestamp + 1_000,
    ...overrides,
  });

function rejection(fn: () => unknown): PushRejectedError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PushRejectedError, `expected PushRejectedError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a rejection');
}

describe('push-crypto', () => {
  describe('official Fxiaoke test vector', () => {
    it('signPush reproduces the official signature, with retryTimes included only when present', () => {
      assert.equal(signPush(vector.body, vector.aesKey), vector.body.signature);
      const { retryTimes: _omit, ...withoutRetry } = vector.body;
      assert.equal(signPush(withoutRetry, vector.aesKey), vector.signatureWithoutRetryTimes);
    });

    it('decrypts the official ciphertext to the official plaintext', () => {
      assert.equal(decryptPushContent(vector.body.encryptedContent, vector.aesKey), vector.plaintext);
    });

    it('openPush turns the official body into the internal event', () => {
      assert.deepEqual(open(vector.body), {
        messageId: 'AC11291700002A9F00000608C038697A0',
        tenantId: '691413',
        apiName: 'AccountObj',
        dataId: '5f9cd4e6e4400e0001217faa',
        eventType: 'update',
        changedAtMs: 1604644208525,
        retryTimes: 1,
        via: 'push',
      });
    });

    it('buildPushReply reproduces the reply vector and isSuccessReply accepts it', () => {
      const reply = buildPushReply(vector.aesKey, {
        timestamp: vector.reply.timestamp,
        nonce: vector.reply.nonce,
      });
      assert.deepEqual(reply, vector.reply);
      assert.equal(isSuccessReply(JSON.stringify(reply), vector.aesKey), true);
      assert.equal(isSuccessReply('success', vector.aesKey), true);
      assert.equal(isSuccessReply('{"encryptedResult":"x","signature":"y"}', vector.aesKey), false);
    });
  });

  describe('round trip', () => {
    it('a body built by buildPushRequest opens to the same event, with and without retryTimes', () => {
      const inner = {
        tenantId: 590163,
        eventType: 'add',
        apiName: 'object_x1__c',
        dataId: '0039b47555cf4be98b8ff85d1ca70144',
        timestamp: 1_700_000_000_000,
        messageId: 'M1',
      };
      for (const retryTimes of [undefined, 2]) {
        const body = buildPushRequest(inner, {
          aesKey: vector.aesKey,
          enterpriseAccount: 'gxcxkj',
          timestamp: 1_700_000_000_500,
          ...(retryTimes === undefined ? {} : { retryTimes }),
        });
        assert.equal('retryTimes' in body, retryTimes !== undefined);
        const event = open(body, { now: 1_700_000_001_000 });
        assert.equal(event.eventType, 'add', 'unknown event types pass through for the consumer to re-read');
        assert.equal(event.retryTimes, retryTimes ?? 0);
        assert.equal(event.tenantId, '590163');
      }
    });
  });

  describe('rejections', () => {
    it('a forged signature is PUSH_BAD_SIGNATURE (401)', () => {
      const error = rejection(() => open({ ...vector.body, signature: 'f'.repeat(40) }));
      assert.equal(error.code, 'PUSH_BAD_SIGNATURE');
      assert.equal(error.httpStatus, 401);
    });

    it('a body signed with another key is PUSH_BAD_SIGNATURE', () => {
      const otherKey = Buffer.alloc(32, 7).toString('base64');
      assert.equal(rejection(() => open(vector.body, { aesKey: otherKey })).code, 'PUSH_BAD_SIGNATURE');
    });

    it('a correctly signed body whose content was encrypted with another key is PUSH_UNDECRYPTABLE', () => {
      const otherKey = Buffer.alloc(32, 7).toString('base64');
      const body = buildPushRequest(
        {
          tenantId: 1,
          eventType: 'update',
          apiName: 'AccountObj',
          dataId: 'd',
          timestamp: 1,
          messageId: 'm',
        },
        { aesKey: otherKey, enterpriseAccount: 'gxcxkj', timestamp: vector.body.timestamp },
      );
      const resigned = { ...body, signature: signPush(body, vector.aesKey) };
      assert.equal(rejection(() => open(resigned)).code, 'PUSH_UNDECRYPTABLE');
    });

    it('another enterprise account is PUSH_WRONG_ENTERPRISE', () => {
      assert.equal(
        rejection(() => open(vector.body, { enterpriseAccount: 'other' })).code,
        'PUSH_WRONG_ENTERPRISE',
      );
    });

    it('an old timestamp is PUSH_STALE (replay window), and so is one far in the future', () => {
      assert.equal(
        rejection(() => open(vector.body, { now: vector.body.timestamp + 16 * 60_000 })).code,
        'PUSH_STALE',
      );
      assert.equal(
        rejection(() => open(vector.body, { now: vector.body.timestamp - 16 * 60_000 })).code,
        'PUSH_STALE',
      );
    });

    it('truncated ciphertext is PUSH_UNDECRYPTABLE, not an exception', () => {
      const truncated = vector.body.encryptedContent.slice(0, 100);
      const body = {
        ...vector.body,
        encryptedContent: truncated,
        signature: signPush({ ...vector.body, encryptedContent: truncated }, vector.aesKey),
      };
      assert.equal(rejection(() => open(body)).code, 'PUSH_UNDECRYPTABLE');
    });

    it('an inner messageId that differs from the outer one is PUSH_MESSAGE_ID_MISMATCH', () => {
      const body = buildPushRequest(
        {
          tenantId: 1,
          eventType: 'update',
          apiName: 'AccountObj',
          dataId: 'd',
          timestamp: 1,
          messageId: 'inner',
        },
        { aesKey: vector.aesKey, enterpriseAccount: 'gxcxkj', timestamp: vector.body.timestamp },
      );
      const swapped = { ...body, messageId: 'outer' };
      const resigned = { ...swapped, signature: signPush(swapped, vector.aesKey) };
      assert.equal(rejection(() => open(resigned)).code, 'PUSH_MESSAGE_ID_MISMATCH');
    });

    it('non-JSON-object bodies and missing fields are PUSH_MALFORMED (400)', () => {
      for (const body of [null, 'x', 42, [], {}, { ...vector.body, timestamp: 'soon' }]) {
        const error = rejection(() => open(body));
        assert.equal(error.code, 'PUSH_MALFORMED');
        assert.equal(error.httpStatus, 400);
      }
    });
  });

  describe('APL variant', () => {
    const secret = 'sandbox-apl-hmac-secret-not-real';
    const now = 1_700_000_000_000;
    const raw = JSON.stringify({
      tenantId: '590163',
      apiName: 'AccountObj',
      dataId: 'abc',
      eventType: 'update',
      timestamp: now - 500,
      messageId: 'apl-1',
    });

    it('a correctly signed body yields the same event shape as the platform push', () => {
      const event = openAplPush(raw, signAplBody(raw, secret), { secret, maxAgeMs: 60_000, now });
      assert.deepEqual(event, {
        messageId: 'apl-1',
        tenantId: '590163',
        apiName: 'AccountObj',
        dataId: 'abc',
        eventType: 'update',
        changedAtMs: now - 500,
        retryTimes: 0,
        via: 'apl',
      });
      assert.equal(APL_SIGNATURE_HEADER, 'x-fxk3-signature');
    });

    it('rejects a missing or wrong signature, a stale timestamp and a non-JSON body', () => {
      const opts = { secret, maxAgeMs: 60_000, now };
      assert.equal(rejection(() => openAplPush(raw, undefined, opts)).code, 'PUSH_BAD_SIGNATURE');
      assert.equal(
        rejection(() => openAplPush(raw, signAplBody(raw, 'wrong-secret-123456'), opts)).code,
        'PUSH_BAD_SIGNATURE',
      );
      assert.equal(
        rejection(() => openAplPush(raw, signAplBody(raw, secret), { ...opts, now: now + 120_000 })).code,
        'PUSH_STALE',
      );
      assert.equal(
        rejection(() => openAplPush('nope', signAplBody('nope', secret), opts)).code,
        'PUSH_MALFORMED',
      );
      assert.equal(
        rejection(() => openAplPush('{}', signAplBody('{}', secret), opts)).code,
        'PUSH_MALFORMED',
      );
    });
  });
});

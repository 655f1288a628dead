import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import {
  ADMIN_OPEN_USER_ID,
  dataOf,
  IDENTITY,
  post,
  postRaw,
  query,
  startTestEmulator,
  type TestClock,
  testClock,
} from './helpers.ts';

const LEGACY_TOKEN_PATH = '/cgi/corpAccessToken/get/V2';
const credentials = {
  appId: IDENTITY.appId,
  appSecret: IDENTITY.appSecret,
  permanentCode: IDENTITY.permanentCode,
};
const SECOND = 1000;

describe('fxiaoke emulator: tokens and authentication', () => {
  let clock: TestClock;
  let emulator: FxiaokeEmulator;

  before(async () => {
    clock = testClock();
    emulator = await startTestEmulator(clock);
  });
  after(() => emulator.close());

  describe('legacy corpAccessToken (/cgi/corpAccessToken/get/V2)', () => {
    it('returns the same token until 6600 s, a new one from 6600 s, and the old one works until its 7200 s', async () => {
      clock.advance(24 * 3600 * SECOND); // leave any token of other tests behind
      const first = await post(emulator.url, LEGACY_TOKEN_PATH, credentials);
      assert.equal(first.errorCode, 0);
      assert.equal(first.expiresIn, 7200);
      assert.match(String(first.corpAccessToken), /^[0-9A-F]{32}$/);
      assert.match(String(first.corpId), /^FSCID_[0-9A-F]{32}$/);
      assert.equal(first.corpId, emulator.corpId);

      clock.advance(6599 * SECOND);
      const reused = await post(emulator.url, LEGACY_TOKEN_PATH, credentials);
      assert.equal(reused.corpAccessToken, first.corpAccessToken, 'same token before 6600 s');
      assert.equal(reused.expiresIn, 601, 'expiresIn counts down to the token’s own expiry');

      clock.advance(1 * SECOND); // age 6600 s
      const renewed = await post(emulator.url, LEGACY_TOKEN_PATH, credentials);
      assert.notEqual(renewed.corpAccessToken, first.corpAccessToken, 'new token from 6600 s on');
      assert.equal(renewed.expiresIn, 7200);
      const again = await post(emulator.url, LEGACY_TOKEN_PATH, credentials);
      assert.equal(again.corpAccessToken, renewed.corpAccessToken, 'the new token is then reused');

      const useToken = (token: unknown) =>
        post(emulator.url, '/cgi/crm/v2/data/query', {
          corpAccessToken: token,
          corpId: first.corpId,
          currentOpenUserId: ADMIN_OPEN_USER_ID,
          ...query('AccountObj', { limit: 1 }),
        });
      clock.advance(599 * SECOND); // old token age 7199 s
      assert.equal(
        (await useToken(first.corpAccessToken)).errorCode,
        0,
        'old token valid until its own 7200 s',
      );
      clock.advance(1 * SECOND); // old token age 7200 s
      const expired = await useToken(first.corpAccessToken);
      assert.equal(expired.errorCode, 20016);
      assert.equal(expired.errorMessage, 'corpAccessToken不存在或者已经过期');
      assert.equal((await useToken(renewed.corpAccessToken)).errorCode, 0, 'the renewed token still works');
    });

    it('answers wrong credentials with 20006 / 20015 and missing ones with 10001 / 10002 / 10012', async () => {
      const cases: [Record<string, unknown>, number][] = [
        [{ ...credentials, appSecret: 'wrong-secret' }, 20006],
        [{ ...credentials, appId: 'FSAID_other' }, 20006],
        [{ ...credentials, permanentCode: 'WRONG' }, 20015],
        [{ appSecret: credentials.appSecret, permanentCode: credentials.permanentCode }, 10001],
        [{ appId: credentials.appId, permanentCode: credentials.permanentCode }, 10002],
        [{ appId: credentials.appId, appSecret: credentials.appSecret }, 10012],
      ];
      for (const [body, code] of cases) {
        const answer = await post(emulator.url, LEGACY_TOKEN_PATH, body);
        assert.equal(answer.errorCode, code, JSON.stringify(body));
        assert.equal(answer.corpAccessToken, undefined);
      }
    });

    it('accepts the optional ?thirdTraceId= of the current docs', async () => {
      const answer = await post(
        emulator.url,
        `${LEGACY_TOKEN_PATH}?thirdTraceId=${randomUUID()}`,
        credentials,
      );
      assert.equal(answer.errorCode, 0);
    });
  });

  describe('legacy body credentials on data calls', () => {
    it('reports missing corpAccessToken (10013), corpId (10014), currentOpenUserId (10010) and bad values', async () => {
      const token = await post(emulator.url, LEGACY_TOKEN_PATH, credentials);
      const good = {
        corpAccessToken: token.corpAccessToken,
        corpId: token.corpId,
        currentOpenUserId: ADMIN_OPEN_USER_ID,
        ...query('AccountObj', { limit: 1 }),
      };
      const expect = async (body: Record<string, unknown>, code: number) =>
        assert.equal(
          (await post(emulator.url, '/cgi/crm/v2/data/query', body)).errorCode,
          code,
          JSON.stringify(body),
        );
      await expect(good, 0);
      await expect({ ...good, corpAccessToken: undefined }, 10013);
      await expect({ ...good, corpId: undefined }, 10014);
      await expect({ ...good, currentOpenUserId: undefined }, 10010);
      await expect({ ...good, corpAccessToken: 'F'.repeat(32) }, 20016);
      await expect({ ...good, corpId: 'FSCID_00000000000000000000000000000000' }, 20017);
      await expect({ ...good, currentOpenUserId: 'FSUID_FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF' }, 20012);
      // Employee ids are accepted too (with convertUserId the answer still uses FSUID_…).
      await expect({ ...good, currentOpenUserId: '1000' }, 0);
    });
  });

  describe('current convention (/oauth2.0/token + headers)', () => {
    const oauthBody = { ...credentials, grantType: 'app_secret' };

    it('issues accessToken with ea and openUserId carrying the corp id, and the same reuse rules', async () => {
      clock.advance(24 * 3600 * SECOND);
      const first = await post(emulator.url, `/oauth2.0/token?thirdTraceId=${randomUUID()}`, oauthBody);
      assert.equal(first.errorCode, 0, JSON.stringify(first));
      assert.equal(first.ea, IDENTITY.enterpriseAccount);
      assert.equal(first.openUserId, emulator.corpId);
      assert.equal(first.appId, IDENTITY.appId);
      assert.equal(first.expiresIn, 7200);
      clock.advance(100 * SECOND);
      const reused = await post(emulator.url, `/oauth2.0/token?thirdTraceId=${randomUUID()}`, oauthBody);
      assert.equal(reused.accessToken, first.accessToken);
      assert.equal(reused.expiresIn, 7100);
      clock.advance(6500 * SECOND);
      const renewed = await post(emulator.url, `/oauth2.0/token?thirdTraceId=${randomUUID()}`, oauthBody);
      assert.notEqual(renewed.accessToken, first.accessToken);
    });

    it('rejects a wrong grantType and a missing thirdTraceId on the token call', async () => {
      const wrong = await post(emulator.url, `/oauth2.0/token?thirdTraceId=${randomUUID()}`, {
        ...credentials,
        grantType: 'authorization_code',
      });
      assert.equal(wrong.errorCode, 15002);
      const noTrace = await post(emulator.url, '/oauth2.0/token', oauthBody);
      assert.equal(noTrace.errorCode, 32000);
    });

    it('authenticates Bearer + x-fs-ea + x-fs-userid, requiring a UUIDv4 thirdTraceId', async () => {
      const token = await post(emulator.url, `/oauth2.0/token?thirdTraceId=${randomUUID()}`, oauthBody);
      const headers = {
        authorization: `Bearer ${String(token.accessToken)}`,
        'x-fs-ea': IDENTITY.enterpriseAccount,
        'x-fs-userid': '1000',
      };
      const body = query('AccountObj', { limit: 5 });
      const call = (path: string, h: Record<string, string> = headers) => post(emulator.url, path, body, h);
      const ok = await call(`/cgi/crm/v2/data/query?thirdTraceId=${randomUUID()}`);
      const rows = dataOf(ok).dataList;
      assert.ok(Array.isArray(rows) && rows.length > 0);
      const first: unknown = rows[0];
      assert.ok(typeof first === 'object' && first !== null && 'owner' in first);
      assert.ok(
        Array.isArray(first.owner) && !String(first.owner[0]).startsWith('FSUID_'),
        'no id conversion',
      );

      assert.equal((await call('/cgi/crm/v2/data/query')).errorCode, 32000, 'missing thirdTraceId');
      assert.equal((await call('/cgi/crm/v2/data/query?thirdTraceId=not-a-uuid')).errorCode, 15002);
      const trace = `?thirdTraceId=${randomUUID()}`;
      assert.equal((await call(`/cgi/crm/v2/data/query${trace}`)).errorCode, 0);
      assert.equal(
        (await call(`/cgi/crm/v2/data/query${trace}`)).errorCode,
        0,
        'reuse is tolerated by default',
      );
      const fresh = () => `/cgi/crm/v2/data/query?thirdTraceId=${randomUUID()}`;
      assert.equal((await call(fresh(), { ...headers, authorization: 'Bearer ABC' })).errorCode, 20016);
      assert.equal((await call(fresh(), { ...headers, authorization: 'Token x' })).errorCode, 10013);
      assert.equal((await call(fresh(), { ...headers, 'x-fs-ea': 'other' })).errorCode, 20017);
      const { 'x-fs-ea': _ea, ...noEa } = headers;
      assert.equal((await call(fresh(), noEa)).errorCode, 32000);
      const { 'x-fs-userid': _user, ...noUser } = headers;
      assert.equal((await call(fresh(), noUser)).errorCode, 10010);
      assert.equal((await call(fresh(), { ...headers, 'x-fs-userid': '4242' })).errorCode, 20012);
    });

    it('with thirdTraceId "require-unique" refuses a reused id', async () => {
      const strictClock = testClock();
      const strict = await startTestEmulator(strictClock, { thirdTraceId: 'require-unique', seed: false });
      try {
        const token = await post(strict.url, `/oauth2.0/token?thirdTraceId=${randomUUID()}`, oauthBody);
        const headers = {
          authorization: `Bearer ${String(token.accessToken)}`,
          'x-fs-ea': IDENTITY.enterpriseAccount,
          'x-fs-userid': '1000',
        };
        const path = `/cgi/crm/v2/object/list?thirdTraceId=${randomUUID()}`;
        assert.equal((await post(strict.url, path, {}, headers)).errorCode, 0);
        assert.equal((await post(strict.url, path, {}, headers)).errorCode, 15002);
      } finally {
        await strict.close();
      }
    });
  });

  describe('token endpoint limits', () => {
    it('answers the 11th token call within a minute with 14001, and serves again after the minute', async () => {
      const limitedClock = testClock();
      const limited = await startTestEmulator(limitedClock, { tokenRateLimit: undefined, seed: false });
      try {
        for (let i = 0; i < 10; i += 1) {
          assert.equal(
            (await post(limited.url, LEGACY_TOKEN_PATH, credentials)).errorCode,
            0,
            `call ${i + 1}`,
          );
        }
        assert.equal((await post(limited.url, LEGACY_TOKEN_PATH, credentials)).errorCode, 14001);
        limitedClock.advance(60 * SECOND);
        assert.equal((await post(limited.url, LEGACY_TOKEN_PATH, credentials)).errorCode, 0);
        assert.equal(limited.stats().tokenCallsRefused, 1);
        assert.equal(limited.stats().tokensIssued, 1, 'reused answers are not new tokens');
      } finally {
        await limited.close();
      }
    });

    it('refuses a token call that arrives while another one is still being answered (14001)', async () => {
      // Request 1 sends its headers and half its body, then stalls: it is "in flight".
      const body = JSON.stringify(credentials);
      const url = new URL(`${emulator.url}${LEGACY_TOKEN_PATH}`);
      const { request } = await import('node:http');
      const slow = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      const slowAnswer = new Promise<string>((resolve, reject) => {
        slow.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => resolve(text));
        });
        slow.on('error', reject);
      });
      const callsBefore = emulator.stats().calls[LEGACY_TOKEN_PATH] ?? 0;
      slow.write(body.slice(0, 10));
      // Wait until the server has seen the first request (it counts calls on arrival).
      while ((emulator.stats().calls[LEGACY_TOKEN_PATH] ?? 0) === callsBefore) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      const concurrent = await postRaw(emulator.url, LEGACY_TOKEN_PATH, body);
      assert.equal(concurrent.errorCode, 14001);
      slow.end(body.slice(10));
      const finished: unknown = JSON.parse(await slowAnswer);
      assert.ok(typeof finished === 'object' && finished !== null && 'errorCode' in finished);
      assert.equal(finished.errorCode, 0, 'the first call completes normally');
    });
  });

  describe('expireTokens fault', () => {
    it('makes every issued token answer 20016; a new token request then issues a fresh token', async () => {
      const token = await post(emulator.url, LEGACY_TOKEN_PATH, credentials);
      const body = {
        corpAccessToken: token.corpAccessToken,
        corpId: token.corpId,
        currentOpenUserId: ADMIN_OPEN_USER_ID,
        ...query('AccountObj', { limit: 1 }),
      };
      assert.equal((await post(emulator.url, '/cgi/crm/v2/data/query', body)).errorCode, 0);
      emulator.setFaults({ expireTokens: true });
      assert.equal((await post(emulator.url, '/cgi/crm/v2/data/query', body)).errorCode, 20016);
      const renewed = await post(emulator.url, LEGACY_TOKEN_PATH, credentials);
      assert.notEqual(renewed.corpAccessToken, token.corpAccessToken);
      const retried = await post(emulator.url, '/cgi/crm/v2/data/query', {
        ...body,
        corpAccessToken: renewed.corpAccessToken,
      });
      assert.equal(retried.errorCode, 0);
      emulator.setFaults({});
    });
  });
});

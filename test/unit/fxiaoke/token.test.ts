import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InMemoryCredentialStore } from '../../../lib/credentials.ts';
import { FxiaokeClient } from '../../../lib/fxiaoke/client.ts';
import {
  authenticate,
  credentialFromTokenResponse,
  type FxiaokeCredential,
  fxiaokeCredentialKey,
  fxiaokeCredentialSchema,
} from '../../../lib/fxiaoke/token.ts';
import {
  FAKE_PERMANENT_CODE,
  fail,
  isTokenPath,
  ok,
  type SeenRequest,
  scriptedFxiaoke,
  settingsFor,
  tokenAnswer,
  tokenString,
} from './scripted-fxiaoke.ts';

const T0 = 1_800_000_000_000;
const S = 1000;

function credentialOf(flow: 'legacy' | 'oauth2', response: unknown, now = T0): FxiaokeCredential {
  const made = credentialFromTokenResponse(flow, response, now);
  assert.ok(made.ok, made.ok ? '' : made.problem);
  return made.credential;
}

const tokenUsedBy = (request: SeenRequest | undefined): string | undefined => {
  const fromBody = request?.body.corpAccessToken;
  if (typeof fromBody === 'string') return fromBody;
  return request?.headers.authorization?.replace(/^Bearer /, '');
};

describe('Fxiaoke tokens', () => {
  describe('credential timing', () => {
    it('legacy: renew from 6600 s, expire at 7200 s', () => {
      const c = credentialOf('legacy', tokenAnswer('legacy', 1, 7200).json);
      assert.equal(c.renewAtMs, T0 + 6600 * S);
      assert.equal(c.expiresAtMs, T0 + 7200 * S);
      assert.equal(c.corpId, 'FSCID_UNIT');
    });

    it('oauth2: renew in the 6650–7200 s window of the announced lifetime', () => {
      const c = credentialOf('oauth2', tokenAnswer('oauth2', 1, 7084).json);
      assert.equal(c.expiresAtMs, T0 + 7084 * S);
      assert.equal(c.renewAtMs, T0 + (7084 - 550) * S);
      assert.equal(c.ea, 'unit01');
    });

    it('a token handed out late in its life is renewed at once; absent or absurd expiresIn means 7200 s', () => {
      assert.equal(credentialOf('legacy', tokenAnswer('legacy', 1, 300).json).renewAtMs, T0);
      assert.equal(credentialOf('legacy', { corpAccessToken: 'T', corpId: 'C' }).expiresAtMs, T0 + 7200 * S);
      assert.equal(credentialOf('legacy', tokenAnswer('legacy', 1, 999_999).json).expiresAtMs, T0 + 7200 * S);
      assert.equal(
        credentialOf('legacy', { corpAccessToken: 'T', corpId: 'C', expiresIn: '7200' }).renewAtMs,
        T0 + 6600 * S,
      );
    });

    it('reports what is missing from an incomplete answer', () => {
      const made = credentialFromTokenResponse('oauth2', { accessToken: 'x' }, T0);
      assert.equal(made.ok, false);
    });

    it('the stored credential is plain JSON, its id does not reveal the token, and it round-trips', () => {
      const c = credentialOf('legacy', tokenAnswer('legacy').json);
      const copy: unknown = JSON.parse(JSON.stringify(c));
      assert.deepEqual(copy, c);
      assert.deepEqual(fxiaokeCredentialSchema.parse(copy), c);
      assert.equal(c.id.includes(c.token), false);
      assert.match(c.id, /^[0-9a-f]{16}$/);
    });

    it('the store key names flow and app but hides the permanent code', () => {
      const key = fxiaokeCredentialKey(settingsFor('legacy'));
      assert.match(key, /^fxiaoke:legacy:FSAID_unit:[0-9a-f]{16}$/);
      assert.equal(key.includes(FAKE_PERMANENT_CODE), false);
      assert.notEqual(key, fxiaokeCredentialKey(settingsFor('oauth2')));
    });

    it('authenticate: legacy in the body, oauth2 in headers', () => {
      const legacy = authenticate(credentialOf('legacy', tokenAnswer('legacy').json), 'FSUID_X', {
        data: {},
      });
      assert.deepEqual(legacy.headers, {});
      assert.deepEqual(legacy.body, {
        corpAccessToken: tokenString(1),
        corpId: 'FSCID_UNIT',
        currentOpenUserId: 'FSUID_X',
        data: {},
      });
      const oauth2 = authenticate(credentialOf('oauth2', tokenAnswer('oauth2').json), '1000', { data: {} });
      assert.deepEqual(oauth2.headers, {
        authorization: `Bearer ${tokenString(1)}`,
        'x-fs-ea': 'unit01',
        'x-fs-userid': '1000',
      });
      assert.deepEqual(oauth2.body, { data: {} });
    });
  });

  describe('through the client', () => {
    /** Scripted server issuing token n on the n-th token call; data calls answered by `data`. */
    function server(
      data: (request: SeenRequest) => ReturnType<typeof ok>,
      flow: 'legacy' | 'oauth2' = 'legacy',
    ) {
      let issued = 0;
      return scriptedFxiaoke((request) => {
        if (isTokenPath(request.path)) {
          issued++;
          return tokenAnswer(flow, issued);
        }
        return data(request);
      });
    }

    it('keeps one token until 6600 s, renews between 6600 and 7200 s, and never uses it past 7200 s', async () => {
      let now = T0;
      const clock = () => now;
      const fx = server(() => ok({ data: { _id: 'a' } }));
      const client = new FxiaokeClient(settingsFor('legacy'), {
        dispatcher: fx.agent,
        clock,
        credentialStore: new InMemoryCredentialStore<FxiaokeCredential>(clock),
      });
      try {
        await client.get('AccountObj', 'a');
        now = T0 + 6599 * S;
        await client.get('AccountObj', 'a');
        assert.equal(fx.tokenCalls().length, 1, 'same token until 6600 s');

        now = T0 + 6601 * S;
        await client.get('AccountObj', 'a');
        assert.equal(
          tokenUsedBy(fx.dataCalls().at(-1)),
          tokenString(1),
          'old token still served during renewal',
        );
        await new Promise((resolve) => setImmediate(resolve));
        await client.get('AccountObj', 'a');
        assert.equal(fx.tokenCalls().length, 2, 'one renewal');
        assert.equal(tokenUsedBy(fx.dataCalls().at(-1)), tokenString(2));

        // token 2 was issued at 6601 s; jump past its expiry with no call in between
        now = T0 + (6601 + 7201) * S;
        await client.get('AccountObj', 'a');
        assert.equal(fx.tokenCalls().length, 3);
        assert.equal(tokenUsedBy(fx.dataCalls().at(-1)), tokenString(3), 'an expired token is never used');
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('a stored credential it cannot use (another flow, e.g. written by another version) is replaced, not sent', async () => {
      const store = new InMemoryCredentialStore<FxiaokeCredential>(() => T0);
      const fx = server(() => ok({ data: { _id: 'a' } }));
      const client = new FxiaokeClient(settingsFor('legacy'), {
        dispatcher: fx.agent,
        clock: () => T0,
        credentialStore: store,
      });
      try {
        await store.get(client.credentialKey, async () => ({
          id: 'stale',
          renewAtMs: T0 + 3_600_000,
          expiresAtMs: T0 + 7_200_000,
          flow: 'oauth2',
          token: 'OTHER-FLOW-TOKEN',
          ea: 'x',
          issuedAtMs: T0,
        }));
        await client.get('AccountObj', 'a');
        assert.equal(fx.tokenCalls().length, 1);
        assert.equal(tokenUsedBy(fx.dataCalls()[0]), tokenString(1));
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('concurrent first calls share one token call', async () => {
      const fx = server(() => ok({ data: { _id: 'a' } }), 'oauth2');
      const client = new FxiaokeClient(settingsFor('oauth2'), { dispatcher: fx.agent });
      try {
        await Promise.all(Array.from({ length: 10 }, () => client.get('AccountObj', 'a')));
        assert.equal(fx.tokenCalls().length, 1);
        assert.equal(fx.dataCalls().length, 10);
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('20016 → invalidate, one new token, one retry (also for a write, which was refused unexecuted)', async () => {
      const fx = server((request) =>
        tokenUsedBy(request) === tokenString(1)
          ? fail(20016, 'corpAccessToken不存在或者已经过期')
          : ok({ data: { _id: 'a' } }),
      );
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        const record = await client.get('AccountObj', 'a');
        assert.equal(record._id, 'a');
        assert.deepEqual(fx.dataCalls().map(tokenUsedBy), [tokenString(1), tokenString(2)]);
        await client.update('AccountObj', 'a', { name: 'n' });
        assert.equal(fx.tokenCalls().length, 2, 'the new token is kept');
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('11014 (token invalid) is handled like 20016', async () => {
      const fx = server(
        (request) =>
          tokenUsedBy(request) === tokenString(1)
            ? fail(11014, 'corpAccessToken不合法')
            : ok({ dataId: 'x' }),
        'oauth2',
      );
      const client = new FxiaokeClient(settingsFor('oauth2'), { dispatcher: fx.agent });
      try {
        assert.deepEqual(await client.create('AccountObj', { name: 'n' }), { dataId: 'x' });
        assert.equal(fx.tokenCalls().length, 2);
        assert.equal(fx.dataCalls().length, 2);
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('a second 20016 after the refresh is reported as session-expired, without a loop', async () => {
      const fx = server(() => fail(20016, 'corpAccessToken不存在或者已经过期'));
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        await assert.rejects(client.get('AccountObj', 'a'), {
          kind: 'session-expired',
          code: 'FXIAOKE_20016',
        });
        assert.equal(fx.tokenCalls().length, 2);
        assert.equal(fx.dataCalls().length, 2);
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('many concurrent 20016s about the same token cause one re-issue', async () => {
      let firstTokenExpired = false;
      const fx = server((request) =>
        firstTokenExpired && tokenUsedBy(request) === tokenString(1)
          ? fail(20016)
          : ok({ data: { _id: 'a' } }),
      );
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        await client.get('AccountObj', 'warm-up');
        firstTokenExpired = true;
        await Promise.all(Array.from({ length: 8 }, () => client.get('AccountObj', 'a')));
        assert.equal(fx.tokenCalls().length, 2, 'exactly one re-issue');
        assert.equal(tokenUsedBy(fx.dataCalls().at(-1)), tokenString(2));
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });
});

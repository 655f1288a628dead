import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { K3CloudError } from '../../../lib/k3cloud/errors.ts';
import {
  cookieHeader,
  judgeLoginResult,
  k3SessionCredentialSchema,
  k3SessionKey,
  newSessionCredential,
  SESSION_MAX_AGE_MS,
  SESSION_RENEW_AFTER_MS,
  SignatureCookieJar,
  sessionCredentialId,
  sessionHeaders,
} from '../../../lib/k3cloud/session.ts';
import { parseSetCookies } from '../../../lib/k3cloud/transport.ts';
import { K3_LOGIN_OPERATIONS, loginResultSchema } from '../../../lib/k3cloud/wire.ts';

const cookieSchema = z.object({ name: z.string(), value: z.string() });
const caseSchema = z.object({
  name: z.string(),
  source: z.string(),
  operation: z.enum(K3_LOGIN_OPERATIONS),
  mode: z.enum(['password', 'app-secret', 'login-by-sign']),
  acceptDealWithForm: z.boolean().optional(),
  setCookie: z.array(z.string()),
  body: z.unknown(),
  expect: z.union([
    z.object({
      error: z.object({
        code: z.string(),
        kind: z.string(),
        messageIncludes: z.array(z.string()),
        remote: z.array(z.string()),
      }),
    }),
    z.object({
      kdsvcSessionId: z.string(),
      dealWithForm: z.boolean().optional(),
      cookies: z.array(cookieSchema),
      cookieHeader: z.string(),
    }),
  ]),
});

const fixture = z
  .object({ cases: z.array(caseSchema) })
  .parse(
    JSON.parse(
      readFileSync(new URL('../../fixtures/k3cloud/client-login-results.json', import.meta.url), 'utf8'),
    ),
  );

describe('k3cloud login results (spec §2.1)', () => {
  for (const testCase of fixture.cases) {
    it(`${testCase.name} [${testCase.source}]`, () => {
      const result = loginResultSchema.parse(testCase.body);
      const judge = () =>
        judgeLoginResult(testCase.operation, testCase.mode, result, testCase.setCookie, {
          acceptDealWithForm: testCase.acceptDealWithForm ?? true,
        });
      const { expect } = testCase;
      if ('error' in expect) {
        assert.throws(judge, (error: unknown) => {
          assert.ok(error instanceof K3CloudError);
          assert.equal(error.code, expect.error.code);
          assert.equal(error.kind, expect.error.kind);
          assert.equal(error.retryable, false, 'a refused login needs an operator, not a retry');
          for (const text of expect.error.messageIncludes) {
            assert.ok(error.message.includes(text), `message lacks “${text}”: ${error.message}`);
          }
          assert.deepEqual(error.remoteMessages, expect.error.remote);
          return true;
        });
      } else {
        const judgement = judge();
        assert.equal(judgement.kdsvcSessionId, expect.kdsvcSessionId);
        assert.deepEqual(judgement.cookies, expect.cookies);
        assert.equal(judgement.dealWithForm, expect.dealWithForm ?? false);
        assert.equal(cookieHeader(judgement.cookies), expect.cookieHeader);
      }
    });
  }
});

describe('k3cloud session credential', () => {
  const config = {
    serverUrl: 'https://ops:hunter2secret@ERP.Example.com:8443/K3Cloud/?x=1#frag',
    acctId: '5f1a2b3c4d5e6f',
    username: 'demo',
  };

  it('the store key is site + acctID + user, without user info, query or secrets', () => {
    const key = k3SessionKey(config);
    assert.equal(key, 'k3cloud:https://erp.example.com:8443/k3cloud/:5f1a2b3c4d5e6f:demo');
    assert.ok(!key.includes('hunter2secret'));
  });

  it('is plain JSON that survives a round trip and validates', () => {
    const credential = newSessionCredential(
      'login-by-sign',
      {
        kdsvcSessionId: '00000000-fake-4000-8000-000000000001',
        cookies: [
          { name: 'ASP.NET_SessionId', value: 'fakeaspnetsession0000000' },
          { name: 'kdservice-sessionid', value: '00000000-fake-4000-8000-000000000001' },
        ],
        dealWithForm: false,
      },
      1_700_000_000_000,
      { renewAfterMs: SESSION_RENEW_AFTER_MS, maxAgeMs: SESSION_MAX_AGE_MS },
    );
    const copy = JSON.parse(JSON.stringify(credential));
    assert.deepEqual(copy, credential);
    assert.deepEqual(k3SessionCredentialSchema.parse(copy), credential);
    assert.equal(credential.renewAtMs, 1_700_000_000_000 + 15 * 60_000);
    assert.equal(credential.expiresAtMs, 1_700_000_000_000 + 20 * 60_000);
    assert.ok(credential.renewAtMs < credential.expiresAtMs);
    assert.equal(credential.id, sessionCredentialId('00000000-fake-4000-8000-000000000001'));
    assert.ok(!credential.id.includes('fake'), 'the id is a digest, not the session id');
  });

  it('headers replay the cookies like the SDKs: Theme=standard first, plus the kdservice-sessionid header', () => {
    const headers = sessionHeaders([
      { name: 'ASP.NET_SessionId', value: 'aaa' },
      { name: 'kdservice-sessionid', value: 'bbb' },
      { name: 'Theme', value: 'dark' },
    ]);
    assert.deepEqual(headers, {
      Cookie: 'Theme=standard; ASP.NET_SessionId=aaa; kdservice-sessionid=bbb',
      'kdservice-sessionid': 'bbb',
    });
  });

  it('Set-Cookie parsing keeps name=value, drops attributes, never splits on commas in dates', () => {
    assert.deepEqual(
      parseSetCookies([
        'kdservice-sessionid=20750c4e-10fa-4c11-bf05-7103a812f9b0; path=/',
        'ASP.NET_SessionId=abc; expires=Thu, 01 Jan 2099 00:00:00 GMT; path=/; HttpOnly',
        'garbage',
      ]),
      [
        { name: 'kdservice-sessionid', value: '20750c4e-10fa-4c11-bf05-7103a812f9b0' },
        { name: 'ASP.NET_SessionId', value: 'abc' },
      ],
    );
  });
});

describe('k3cloud signature-mode cookie jar', () => {
  const setCookie = (sid: string) => [`kdservice-sessionid=${sid}; path=/`];

  it('lets one request out while empty; the others wait for its cookie and then use it', async () => {
    const jar = new SignatureCookieJar();
    const first = await jar.ticket();
    assert.equal(first.cookies.length, 0);
    const waiting = [jar.ticket(), jar.ticket()];
    let resolved = 0;
    for (const pending of waiting) pending.then(() => resolved++);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(resolved, 0, 'the others wait while the first is in flight');
    first.settle(setCookie('sid-1-aaaaaaaa'));
    const [second, third] = await Promise.all(waiting);
    assert.deepEqual(second?.cookies, [{ name: 'kdservice-sessionid', value: 'sid-1-aaaaaaaa' }]);
    assert.deepEqual(third?.cookies, second?.cookies);
  });

  it('a failed first request releases the next one, which becomes the new first', async () => {
    const jar = new SignatureCookieJar();
    const first = await jar.ticket();
    const next = jar.ticket();
    first.settle(undefined);
    const second = await next;
    assert.equal(second.cookies.length, 0);
    second.settle(setCookie('sid-2-bbbbbbbb'));
    assert.equal(jar.hasSession, true);
  });

  it('a server that sets no session cookie opens the gate for good', async () => {
    const jar = new SignatureCookieJar();
    const first = await jar.ticket();
    first.settle([]);
    const [a, b] = await Promise.all([jar.ticket(), jar.ticket()]);
    assert.equal(a.cookies.length + b.cookies.length, 0);
  });

  it('invalidate is compare-and-clear: a late report about an old cookie keeps the new one', async () => {
    const jar = new SignatureCookieJar();
    const first = await jar.ticket();
    first.settle(setCookie('sid-old-cccccccc'));
    const stale = await jar.ticket();
    assert.equal(jar.invalidate(stale.generation), true);
    const refresher = await jar.ticket();
    refresher.settle(setCookie('sid-new-dddddddd'));
    assert.equal(jar.invalidate(stale.generation), false, 'the old generation is gone');
    assert.deepEqual(jar.cookieValues(), ['sid-new-dddddddd']);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import { InMemoryCredentialStore } from '../../../lib/credentials.ts';
import { K3CLOUD_SANDBOX_IDENTITY } from '../../../lib/k3cloud/config.ts';
import type { K3SessionCredential } from '../../../lib/k3cloud/session.ts';
import { kdSignatureHeader } from '../../../lib/k3cloud/signing.ts';
import {
  AUTH_MODES,
  clientFor,
  countByNumber,
  newCustomer,
  rejection,
  startEmulator,
} from './client-harness.ts';

const QUERY = { formId: 'BD_Currency', fieldKeys: ['FCODE'], filterString: "FNumber = 'PRE001'" };

describe('k3cloud client: auth modes against the emulator', () => {
  let emulator: K3CloudEmulator;

  before(async () => {
    emulator = await startEmulator();
  });
  after(async () => {
    await emulator.close();
  });

  for (const mode of AUTH_MODES) {
    it(`${mode}: reads and writes; session modes log in exactly once for many calls`, async () => {
      emulator.resetStats();
      const { client, events } = clientFor(emulator.url, mode);
      try {
        assert.deepEqual(await client.executeBillQuery(QUERY), [['CNY']]);
        const { number, model } = newCustomer(`A${AUTH_MODES.indexOf(mode)}`);
        const saved = await client.save({ formId: 'BD_Customer', model });
        assert.equal(saved.number, number);
        const viewed = await client.view({ formId: 'BD_Customer', number });
        assert.equal(String(viewed.Id), saved.id);
        await Promise.all([1, 2, 3, 4, 5].map(() => client.executeBillQuery(QUERY)));
        const stats = emulator.stats();
        if (mode === 'signature') {
          assert.equal(stats.logins, 0, 'signature mode never logs in');
          assert.equal(stats.signatureSessions, 1, 'the cookie handed out first is replayed afterwards');
        } else {
          assert.equal(stats.logins, 1, 'one login serves every call');
          const login = {
            'login-by-sign': 'LoginBySign',
            'app-secret': 'LoginByAppSecret',
            password: 'ValidateUser',
          }[mode];
          assert.equal(stats.calls[login], 1);
        }
        assert.ok(events.every((event) => event.outcome === 'ok'));
      } finally {
        await client.close();
      }
    });
  }

  it('named bodies (Python SDK layout) work as well as positional ones', async () => {
    for (const mode of AUTH_MODES) {
      const { client } = clientFor(emulator.url, mode, {}, { bodyStyle: 'named' });
      try {
        const { number, model } = newCustomer(`N${AUTH_MODES.indexOf(mode)}`);
        const saved = await client.save({ formId: 'BD_Customer', model });
        assert.equal(saved.number, number, mode);
        assert.deepEqual(await client.executeBillQuery(QUERY), [['CNY']], mode);
      } finally {
        await client.close();
      }
    }
  });

  describe('login failures are configuration errors that name the reason', () => {
    it('password: wrong password', async () => {
      const { client, logs } = clientFor(emulator.url, 'password', {
        K3CLOUD_PASSWORD: 'definitely-wrong-password',
      });
      try {
        const error = await rejection(client.executeBillQuery(QUERY));
        assert.equal(error.kind, 'config');
        assert.equal(error.code, 'K3_LOGIN_REJECTED');
        assert.equal(error.operation, 'ValidateUser');
        assert.equal(error.retryable, false);
        assert.match(error.message, /金蝶登录失败/);
        assert.match(error.message, /K3Cloud login failed/);
        assert.match(error.message, /K3CLOUD_PASSWORD/);
        assert.ok(error.remoteMessages.length > 0, 'the server message is kept');
        assert.ok(error.message.includes(error.remoteMessages[0] ?? '∅'), 'verbatim in the message');
        assert.ok(!error.message.includes('definitely-wrong-password'));
        assert.ok(!logs.join('\n').includes('definitely-wrong-password'));
      } finally {
        await client.close();
      }
    });

    for (const mode of ['app-secret', 'login-by-sign'] as const) {
      it(`${mode}: wrong app secret`, async () => {
        const wrongSecret = 'ffffffffffffffffffffffffffffffff';
        const { client, logs } = clientFor(emulator.url, mode, { K3CLOUD_APP_SECRET: wrongSecret });
        try {
          const error = await rejection(
            client.save({ formId: 'BD_Customer', model: newCustomer('W').model }),
          );
          assert.equal(error.kind, 'config');
          assert.equal(error.code, 'K3_LOGIN_REJECTED');
          assert.match(error.message, /K3CLOUD_APP_SECRET/);
          assert.ok(!error.message.includes(wrongSecret));
          assert.ok(!logs.join('\n').includes(wrongSecret));
        } finally {
          await client.close();
        }
      });
    }

    it('signature: a wrong secret ends as a configuration error after one fresh attempt', async () => {
      const wrongSecret = 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee';
      emulator.resetStats();
      const { client } = clientFor(emulator.url, 'signature', { K3CLOUD_APP_SECRET: wrongSecret });
      try {
        const { number, model } = newCustomer('WS');
        const error = await rejection(client.save({ formId: 'BD_Customer', model }));
        assert.equal(error.kind, 'config');
        assert.equal(error.code, 'K3_SESSION_REJECTED');
        assert.equal(error.msgCode, 1);
        assert.ok(!error.message.includes(wrongSecret));
        assert.equal(await countByNumber(emulator, 'BD_Customer', number), 0);
        assert.equal(emulator.stats().calls.Save, 2, 'one attempt plus one fresh retry, no more');
      } finally {
        await client.close();
      }
    });

    it('login-by-sign: SHA-1 against a SHA-256-only server fails with the algorithm hint; an old server accepts it', async () => {
      const { client } = clientFor(emulator.url, 'login-by-sign', { K3CLOUD_LOGIN_SIGN_ALGORITHM: 'sha1' });
      try {
        const error = await rejection(client.executeBillQuery(QUERY));
        assert.equal(error.code, 'K3_LOGIN_REJECTED');
        assert.match(error.message, /K3CLOUD_LOGIN_SIGN_ALGORITHM=sha1/);
      } finally {
        await client.close();
      }
      const oldServer = await startEmulator({ loginSignAlgorithms: ['sha1'] });
      const sha1 = clientFor(oldServer.url, 'login-by-sign', { K3CLOUD_LOGIN_SIGN_ALGORITHM: 'sha1' });
      try {
        assert.deepEqual(await sha1.client.executeBillQuery(QUERY), [['CNY']]);
        assert.equal(oldServer.stats().logins, 1);
      } finally {
        await sha1.client.close();
        await oldServer.close();
      }
    });
  });

  describe('session expiry', () => {
    for (const mode of AUTH_MODES) {
      it(`${mode}: expiry between calls costs exactly one re-login and the write happens once`, async () => {
        const { client, events } = clientFor(emulator.url, mode);
        try {
          await client.executeBillQuery(QUERY);
          emulator.resetStats();
          assert.ok(emulator.expireAllSessions() >= 1);
          const { number, model } = newCustomer(`E${AUTH_MODES.indexOf(mode)}`);
          const saved = await client.save({ formId: 'BD_Customer', model });
          assert.equal(saved.number, number);
          assert.equal(await countByNumber(emulator, 'BD_Customer', number), 1, 'no duplicate write');
          const stats = emulator.stats();
          if (mode === 'signature') {
            assert.equal(stats.logins, 0);
            assert.equal(stats.signatureSessions, 1, 'one new server session');
          } else {
            assert.equal(stats.logins, 1, 'exactly one re-login');
            const saves = events.filter((event) => event.operation === 'Save');
            assert.deepEqual(
              saves.map((event) => [event.outcome, event.attempt]),
              [
                ['session-expired', 1],
                ['ok', 2],
              ],
            );
          }
        } finally {
          await client.close();
        }
      });

      it(`${mode}: expiry before a concurrent burst → one re-login, every write exactly once`, async () => {
        const { client } = clientFor(emulator.url, mode);
        try {
          await client.executeBillQuery(QUERY);
          emulator.resetStats();
          emulator.expireAllSessions();
          const customers = Array.from({ length: 8 }, () => newCustomer(`B${AUTH_MODES.indexOf(mode)}`));
          const results = await Promise.all([
            ...customers.map(({ model }) => client.save({ formId: 'BD_Customer', model })),
            ...[1, 2, 3, 4].map(() => client.executeBillQuery(QUERY)),
          ]);
          assert.equal(results.length, 12);
          for (const { number } of customers) {
            assert.equal(await countByNumber(emulator, 'BD_Customer', number), 1, number);
          }
          const stats = emulator.stats();
          if (mode === 'signature') {
            assert.equal(stats.logins, 0);
            assert.ok(stats.signatureSessions >= 1);
          } else {
            assert.equal(stats.logins, 1, 'one re-login for the whole burst');
          }
        } finally {
          await client.close();
        }
      });
    }

    it('session age policy: renewed in the background after 15 min, never used past 20 min', async () => {
      let now = Date.parse('2026-01-05T09:00:00Z');
      const clock = () => now;
      const store = new InMemoryCredentialStore<K3SessionCredential>(clock);
      const { client } = clientFor(emulator.url, 'app-secret', {}, { clock, credentialStore: store });
      try {
        emulator.resetStats();
        await client.executeBillQuery(QUERY);
        assert.equal(emulator.stats().logins, 1);
        now += 14 * 60_000;
        await client.executeBillQuery(QUERY);
        assert.equal(emulator.stats().logins, 1, 'young session: no login');
        now += 2 * 60_000; // 16 min: renewal window
        await client.executeBillQuery(QUERY);
        for (let i = 0; i < 100 && emulator.stats().logins < 2; i++)
          await new Promise((r) => setTimeout(r, 5));
        assert.equal(emulator.stats().logins, 2, 'one background renewal');
        now += 10 * 60_000; // 26 min after the first login, 10 after the renewal
        await client.executeBillQuery(QUERY);
        assert.equal(emulator.stats().logins, 2, 'the renewed session is used');
        now += 11 * 60_000; // 21 min after the renewal: past maxAge, a fresh login before use
        await client.executeBillQuery(QUERY);
        assert.equal(emulator.stats().logins, 3);
      } finally {
        await client.close();
      }
    });

    it('View after expiry: the server answers {} without an error, the client still re-logs in once', async () => {
      const { client } = clientFor(emulator.url, 'password');
      try {
        await client.executeBillQuery(QUERY);
        emulator.resetStats();
        emulator.expireAllSessions();
        const viewed = await client.view({ formId: 'BD_Customer', number: 'CUST0001' });
        assert.equal(viewed.Number, 'CUST0001');
        assert.equal(emulator.stats().logins, 1);
        assert.equal(emulator.stats().calls.View, 2);
      } finally {
        await client.close();
      }
    });

    it('signature, server that rejects a stale session id: the cookie is dropped and one new session serves the burst', async () => {
      const strict = await startEmulator({ staleSessionWithSignature: 'session-lost' });
      const { client } = clientFor(strict.url, 'signature');
      try {
        await client.executeBillQuery(QUERY);
        strict.resetStats();
        strict.expireAllSessions();
        const customers = Array.from({ length: 6 }, () => newCustomer('SS'));
        await Promise.all(customers.map(({ model }) => client.save({ formId: 'BD_Customer', model })));
        for (const { number } of customers) {
          assert.equal(await countByNumber(strict, 'BD_Customer', number), 1, number);
        }
        const stats = strict.stats();
        assert.equal(
          stats.signatureSessions,
          1,
          'the burst waits for one new session instead of creating six',
        );
        assert.equal(stats.calls.Save, 12, 'each save: one rejected attempt, one executed retry');
      } finally {
        await client.close();
        await strict.close();
      }
    });

    it('a session that expires while a burst is in flight is replaced once', async () => {
      const { client } = clientFor(emulator.url, 'login-by-sign');
      try {
        await client.executeBillQuery(QUERY);
        emulator.resetStats();
        // Hold every request in the emulator (its latency runs before authentication) and expire the session
        // once all of them have arrived: each then meets a dead session on the wire.
        emulator.setFaults({ latencyMs: 300 });
        const customers = Array.from({ length: 6 }, () => newCustomer('F'));
        const burst = Promise.all(
          customers.map(({ model }) => client.save({ formId: 'BD_Customer', model })),
        );
        for (let i = 0; i < 200 && (emulator.stats().calls.Save ?? 0) < customers.length; i++) {
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        emulator.expireAllSessions();
        await burst;
        emulator.setFaults({});
        for (const { number } of customers) {
          assert.equal(await countByNumber(emulator, 'BD_Customer', number), 1, number);
        }
        assert.equal(
          emulator.stats().calls.Save,
          12,
          'every save met the dead session once, then went through',
        );
        assert.equal(emulator.stats().logins, 1);
      } finally {
        emulator.setFaults({});
        await client.close();
      }
    });
  });

  describe('secrets', () => {
    it('no secret, session id or signature appears in any log line or error, in any mode', async () => {
      const appSecret = K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_SECRET;
      const password = K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_PASSWORD;
      const signature = kdSignatureHeader(K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_ID, appSecret, {
        acctId: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_ACCT_ID,
        username: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_USERNAME,
        lcid: 2052,
        orgNumber: '0',
      });
      for (const mode of AUTH_MODES) {
        const { client, logs, store } = clientFor(emulator.url, mode);
        const errors: string[] = [];
        try {
          await client.executeBillQuery(QUERY);
          emulator.expireAllSessions();
          await client.save({ formId: 'BD_Customer', model: newCustomer('S').model });
          emulator.setFaults({ msgCode14: { operations: ['Save'], times: 1 } });
          const throttled = await rejection(
            client.save({ formId: 'BD_Customer', model: newCustomer('S').model }),
          );
          errors.push(throttled.message, JSON.stringify(throttled));
          const business = await rejection(
            client.save({ formId: 'BD_Customer', model: { FCUSTID: 0, FNumber: 'CUST0001', FName: 'dup' } }),
          );
          errors.push(business.message, JSON.stringify(business));
          const secrets: string[] = [appSecret, password, signature];
          if (mode !== 'signature') {
            const credential = await store.get(client.sessionKey, async () => {
              throw new Error('a session should be stored');
            });
            secrets.push(credential.kdsvcSessionId, ...credential.cookies.map((cookie) => cookie.value));
          }
          const haystack = [...logs, ...errors].join('\n');
          assert.ok(logs.length > 0);
          for (const secret of secrets) {
            assert.ok(!haystack.includes(secret), `${mode}: a secret leaked (${secret.length} chars)`);
          }
          assert.ok(
            !/X-Kd-Signature|kdservice-sessionid=|Cookie:/i.test(haystack),
            `${mode}: header values leaked`,
          );
        } finally {
          emulator.setFaults({});
          await client.close();
        }
      }
    });
  });
});

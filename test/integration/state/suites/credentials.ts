import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { SyncError } from '../../../../lib/errors.ts';
import { type FxiaokeCredential, fxiaokeCredentialSchema } from '../../../../lib/fxiaoke/token.ts';
import { type K3SessionCredential, k3SessionCredentialSchema } from '../../../../lib/k3cloud/session.ts';
import {
  CredentialIssueError,
  DynamoCredentialStore,
  type DynamoCredentialStoreOptions,
} from '../../../../lib/state/credential-store.ts';
import { StateError } from '../../../../lib/state/errors.ts';
import { ManualClock, type StateTestContext, uniqueId } from './harness.ts';

/** A K3Cloud-like session: the vendor payload plus the Credential bookkeeping. */
const sessionSchema = z.object({
  id: z.string(),
  renewAtMs: z.number(),
  expiresAtMs: z.number(),
  sessionId: z.string(),
  cookies: z.array(z.string()),
});
type Session = z.output<typeof sessionSchema>;

const LEASE_MS = 15_000;
const HOUR_MS = 3_600_000;

function session(serial: number, nowMs: number, lifetimeMs = HOUR_MS): Session {
  return {
    id: `session-${serial}`,
    renewAtMs: nowMs + lifetimeMs - 10 * 60_000,
    expiresAtMs: nowMs + lifetimeMs,
    sessionId: `fake-kdservice-sessionid-${serial}`,
    cookies: [`kdservice-sessionid=fake-${serial}`],
  };
}

/** Counts logins; each resolves after `delayMs` of real time so concurrent callers overlap with it. */
function countingIssuer(clock: () => number, delayMs = 100) {
  const state = { calls: 0 };
  const issue = async (): Promise<Session> => {
    state.calls += 1;
    const serial = state.calls;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return session(serial, clock());
  };
  return { state, issue };
}

const fastPolling = { pollInitialMs: 5, pollMaxMs: 40 };

export function credentialSuite(ctx: StateTestContext): void {
  const store = (options: Partial<DynamoCredentialStoreOptions<Session>> = {}) =>
    new DynamoCredentialStore<Session>({
      client: ctx.dynamo.client,
      tableName: ctx.tables.coordination,
      schema: sessionSchema,
      leaseMs: LEASE_MS,
      ...fastPolling,
      ...options,
    });

  describe('DynamoCredentialStore', () => {
    describe('get', () => {
      it('50 concurrent functions (own clients, own stores) with nothing stored cause exactly one login', async () => {
        const key = uniqueId('k3cloud:acct:demo');
        const clock = new ManualClock();
        const { state, issue } = countingIssuer(clock.clock);
        const stores = Array.from({ length: 50 }, () =>
          store({ client: ctx.dynamo.newClient(), clock: clock.clock }),
        );

        const results = await Promise.all(stores.map((s) => s.get(key, issue)));

        assert.equal(state.calls, 1);
        assert.deepEqual(new Set(results.map((r) => r.id)), new Set(['session-1']));
        assert.equal(results[0]?.sessionId, 'fake-kdservice-sessionid-1', 'the vendor payload round-trips');
      });

      it('50 concurrent functions finding an expired session cause exactly one re-login', async () => {
        const key = uniqueId('k3cloud:acct:demo');
        const clock = new ManualClock();
        const { state, issue } = countingIssuer(clock.clock, 50);
        await store({ clock: clock.clock }).get(key, issue);
        assert.equal(state.calls, 1);
        clock.advance(HOUR_MS + 1);
        const stores = Array.from({ length: 50 }, () =>
          store({ client: ctx.dynamo.newClient(), clock: clock.clock }),
        );

        const results = await Promise.all(stores.map((s) => s.get(key, issue)));

        assert.equal(state.calls, 2);
        assert.deepEqual(new Set(results.map((r) => r.id)), new Set(['session-2']));
      });

      it('returns the stored credential before renewAt without calling issue', async () => {
        const key = uniqueId('fxiaoke:token');
        const clock = new ManualClock();
        const { state, issue } = countingIssuer(clock.clock, 0);
        const first = await store({ clock: clock.clock }).get(key, issue);
        clock.advance(60_000);
        const again = await store({ clock: clock.clock }).get(key, issue);
        assert.equal(state.calls, 1);
        assert.deepEqual(again, first);
      });
    });

    describe('local cache', () => {
      it('a warm instance serves its copy until renewAt without reading the table', async () => {
        const key = uniqueId('fxiaoke:token');
        const clock = new ManualClock();
        const { state, issue } = countingIssuer(clock.clock, 0);
        const warm = store({ clock: clock.clock });
        const first = await warm.get(key, issue);
        await store({ clock: clock.clock }).invalidate(key, first.id); // another copy drops it in the table
        assert.deepEqual(await warm.get(key, issue), first, 'served from memory');
        await warm.invalidate(key, first.id); // this copy hits the dead session itself
        assert.equal((await warm.get(key, issue)).id, 'session-2');
        assert.equal(state.calls, 2);
      });

      it('with localCache: false every get reads the table', async () => {
        const key = uniqueId('fxiaoke:token');
        const clock = new ManualClock();
        const { state, issue } = countingIssuer(clock.clock, 0);
        const cold = store({ clock: clock.clock, localCache: false });
        const first = await cold.get(key, issue);
        await store({ clock: clock.clock }).invalidate(key, first.id);
        assert.equal((await cold.get(key, issue)).id, 'session-2');
        assert.equal(state.calls, 2);
      });
    });

    describe('invalidate', () => {
      it('50 callers reporting the same dead session, then calling get, cause exactly one re-login', async () => {
        const key = uniqueId('k3cloud:acct:demo');
        const clock = new ManualClock();
        const { state, issue } = countingIssuer(clock.clock, 50);
        const dead = await store({ clock: clock.clock }).get(key, issue);
        const stores = Array.from({ length: 50 }, () =>
          store({ client: ctx.dynamo.newClient(), clock: clock.clock }),
        );

        const results = await Promise.all(
          stores.map(async (s) => {
            await s.invalidate(key, dead.id);
            return await s.get(key, issue);
          }),
        );

        assert.equal(state.calls, 2, 'one initial login + one re-login');
        assert.deepEqual(new Set(results.map((r) => r.id)), new Set(['session-2']));
      });

      it('a late report about an already replaced credential does not discard the new one', async () => {
        const key = uniqueId('fxiaoke:token');
        const clock = new ManualClock();
        const { state, issue } = countingIssuer(clock.clock, 0);
        const s = store({ clock: clock.clock });
        const old = await s.get(key, issue);
        await s.invalidate(key, old.id);
        const fresh = await s.get(key, issue);
        await s.invalidate(key, old.id);
        assert.deepEqual(await s.get(key, issue), fresh);
        assert.equal(state.calls, 2);
      });

      it('invalidating an unknown key is a no-op', async () => {
        await store().invalidate(uniqueId('nothing'), 'session-x');
      });
    });

    describe('lease', () => {
      it('a killed lease holder blocks nobody past the lease: a waiter takes over and logs in once', async () => {
        const key = uniqueId('k3cloud:acct:demo');
        const clock = new ManualClock();
        // Holder: takes the lease, then its login never returns (the Lambda was killed).
        let releaseHolder: (value: Session) => void = () => {};
        let holderEntered: () => void = () => {};
        const entered = new Promise<void>((resolve) => {
          holderEntered = resolve;
        });
        const holder = store({ client: ctx.dynamo.newClient(), clock: clock.clock, instanceId: 'killed' });
        const holderResult = holder.get(
          key,
          () =>
            new Promise<Session>((resolve) => {
              holderEntered();
              releaseHolder = resolve;
            }),
        );
        await entered;
        // Waiter: its sleeps move the shared clock, so the lease runs out without real waiting.
        const waiter = store({
          client: ctx.dynamo.newClient(),
          clock: clock.clock,
          instanceId: 'survivor',
          pollMaxMs: 2_000,
          sleep: async (ms) => {
            clock.advance(ms);
          },
        });
        let waiterLogins = 0;

        const got = await waiter.get(key, async () => {
          waiterLogins += 1;
          return session(2, clock.now);
        });

        assert.equal(waiterLogins, 1);
        assert.equal(got.id, 'session-2');
        // The killed holder comes back late: its write is refused, the stored session stays the survivor's.
        releaseHolder(session(1, clock.now));
        assert.equal((await holderResult).id, 'session-1', 'the late holder still gets a valid session');
        const reader = store({ clock: clock.clock });
        assert.equal((await reader.get(key, async () => session(3, clock.now))).id, 'session-2');
      });

      it('a waiter gives up with CREDENTIAL_WAIT_TIMEOUT when maxWaitMs is shorter than a live lease', async () => {
        const key = uniqueId('k3cloud:acct:demo');
        const clock = new ManualClock();
        let holderEntered: () => void = () => {};
        const entered = new Promise<void>((resolve) => {
          holderEntered = resolve;
        });
        let finishHolder: (value: Session) => void = () => {};
        const holderResult = store({ clock: clock.clock }).get(
          key,
          () =>
            new Promise<Session>((resolve) => {
              holderEntered();
              finishHolder = resolve;
            }),
        );
        await entered;
        const waiter = store({
          clock: clock.clock,
          maxWaitMs: 1_000,
          sleep: async (ms) => {
            clock.advance(ms);
          },
        });

        await assert.rejects(
          waiter.get(key, async () => session(9, clock.now)),
          (error: unknown) => {
            assert.ok(error instanceof StateError);
            assert.equal(error.code, 'CREDENTIAL_WAIT_TIMEOUT');
            assert.equal(error.kind, 'transient');
            return true;
          },
        );
        finishHolder(session(1, clock.now));
        await holderResult;
      });
    });

    describe('failed login', () => {
      const loginError = () =>
        new SyncError('登录失败 / Login failed', {
          kind: 'config',
          fault: 'ours',
          code: 'K3_LOGIN_FAILED',
          remoteMessages: ['用户名或密码错误'],
        });

      it('surfaces the error to the caller, shares it with the waiters, and frees the lease for the next caller', async () => {
        const key = uniqueId('k3cloud:acct:demo');
        const clock = new ManualClock();
        let attempts = 0;
        const failing = async (): Promise<Session> => {
          attempts += 1;
          await new Promise((resolve) => setTimeout(resolve, 50));
          // The failure happens after every caller started, whatever the machine's speed: all of them share it.
          clock.advance(1);
          throw loginError();
        };
        const stores = Array.from({ length: 10 }, () =>
          store({ client: ctx.dynamo.newClient(), clock: clock.clock }),
        );

        const outcomes = await Promise.allSettled(stores.map((s) => s.get(key, failing)));

        assert.equal(attempts, 1, 'the waiters do not each try to log in');
        for (const outcome of outcomes) {
          assert.equal(outcome.status, 'rejected');
          const error: unknown = outcome.reason;
          assert.ok(error instanceof SyncError);
          assert.equal(error.code, 'K3_LOGIN_FAILED');
          assert.equal(error.kind, 'config');
          assert.deepEqual(error.remoteMessages, ['用户名或密码错误'], 'the server message is kept verbatim');
        }
        assert.equal(
          outcomes.filter((o) => o.status === 'rejected' && o.reason instanceof CredentialIssueError).length,
          9,
        );

        // The lease was released: a later caller logs in at once.
        const { state, issue } = countingIssuer(clock.clock, 0);
        assert.equal((await store({ clock: clock.clock }).get(key, issue)).id, 'session-1');
        assert.equal(state.calls, 1);
      });

      it('with failureCooldownMs, callers fail fast with the recorded error instead of retrying', async () => {
        const key = uniqueId('k3cloud:acct:demo');
        const clock = new ManualClock();
        const cooled = store({ clock: clock.clock, failureCooldownMs: 30_000 });
        await assert.rejects(
          cooled.get(key, async () => {
            throw loginError();
          }),
          /Login failed/,
        );
        clock.advance(1_000);
        let attempts = 0;
        await assert.rejects(
          cooled.get(key, async () => {
            attempts += 1;
            return session(1, clock.now);
          }),
          (error: unknown) =>
            error instanceof CredentialIssueError &&
            error.code === 'K3_LOGIN_FAILED' &&
            error.retryAfterMs === 29_000,
        );
        assert.equal(attempts, 0);
        clock.advance(30_000);
        assert.equal((await cooled.get(key, async () => session(2, clock.now))).id, 'session-2');
      });

      it('a credential that is already expired when issued is refused, not stored', async () => {
        const key = uniqueId('k3cloud:acct:demo');
        const clock = new ManualClock();
        await assert.rejects(
          store({ clock: clock.clock }).get(key, async () => session(1, clock.now - 2 * HOUR_MS)),
          (error: unknown) => error instanceof StateError && error.code === 'CREDENTIAL_ALREADY_EXPIRED',
        );
      });
    });

    describe('renewal window', () => {
      it('callers keep the current session while another renews, and only one renews', async () => {
        const key = uniqueId('fxiaoke:token');
        const clock = new ManualClock();
        const { state, issue } = countingIssuer(clock.clock, 100);
        const current = await store({ clock: clock.clock }).get(key, issue);
        clock.advance(HOUR_MS - 5 * 60_000); // past renewAt, before expiresAt
        const stores = Array.from({ length: 20 }, () =>
          store({ client: ctx.dynamo.newClient(), clock: clock.clock }),
        );

        const results = await Promise.all(stores.map((s) => s.get(key, issue)));

        assert.equal(state.calls, 2, 'one renewal');
        const ids = results.map((r) => r.id);
        assert.equal(
          ids.filter((id) => id === 'session-2').length >= 1,
          true,
          'the renewing caller gets the new one',
        );
        assert.ok(
          ids.every((id) => id === current.id || id === 'session-2'),
          'nobody waits: the others use the current one',
        );
        assert.equal((await store({ clock: clock.clock }).get(key, issue)).id, 'session-2');
      });

      it('a failed renewal returns the still-valid session and is not retried by every caller', async () => {
        const key = uniqueId('fxiaoke:token');
        const clock = new ManualClock();
        const current = await store({ clock: clock.clock }).get(key, async () => session(1, clock.now));
        clock.advance(HOUR_MS - 5 * 60_000);
        let renewals = 0;
        const failing = async (): Promise<Session> => {
          renewals += 1;
          throw new Error('token endpoint unreachable');
        };
        assert.deepEqual(await store({ clock: clock.clock }).get(key, failing), current);
        assert.deepEqual(await store({ clock: clock.clock }).get(key, failing), current);
        assert.equal(renewals, 1, 'the next caller within renewalRetryMs does not try again');
        clock.advance(31_000);
        assert.equal(
          (await store({ clock: clock.clock }).get(key, async () => session(2, clock.now))).id,
          'session-2',
        );
      });

      it("renewalFailure: 'throw' surfaces a failed renewal", async () => {
        const key = uniqueId('fxiaoke:token');
        const clock = new ManualClock();
        await store({ clock: clock.clock }).get(key, async () => session(1, clock.now));
        clock.advance(HOUR_MS - 5 * 60_000);
        await assert.rejects(
          store({ clock: clock.clock, renewalFailure: 'throw' }).get(key, async () => {
            throw new Error('token endpoint unreachable');
          }),
          /token endpoint unreachable/,
        );
      });
    });

    describe('stored data', () => {
      it('a stored credential that no longer parses is replaced by a new login', async () => {
        const key = uniqueId('k3cloud:acct:demo');
        const clock = new ManualClock();
        const looseSchema = z.object({ id: z.string(), renewAtMs: z.number(), expiresAtMs: z.number() });
        const legacy = new DynamoCredentialStore({
          client: ctx.dynamo.client,
          tableName: ctx.tables.coordination,
          schema: looseSchema,
          clock: clock.clock,
        });
        await legacy.get(key, async () => ({
          id: 'legacy',
          renewAtMs: clock.now + HOUR_MS,
          expiresAtMs: clock.now + 2 * HOUR_MS,
        }));

        const got = await store({ clock: clock.clock }).get(key, async () => session(7, clock.now));

        assert.equal(got.id, 'session-7');
      });

      it('round-trips the real credential types of lib/k3cloud and lib/fxiaoke', async () => {
        const clock = new ManualClock();
        const k3Store = new DynamoCredentialStore<K3SessionCredential>({
          client: ctx.dynamo.client,
          tableName: ctx.tables.coordination,
          schema: k3SessionCredentialSchema,
          clock: clock.clock,
          localCache: false,
        });
        const k3Session: K3SessionCredential = {
          id: 'digest-0123456789abcdef',
          renewAtMs: clock.now + 15 * 60_000,
          expiresAtMs: clock.now + 20 * 60_000,
          type: 'k3cloud-session',
          authMode: 'app-secret',
          cookies: [
            { name: 'ASP.NET_SessionId', value: 'fakeaspnetsessionid000000' },
            { name: 'kdservice-sessionid', value: '00000000-fake-4000-8000-000000000000' },
          ],
          kdsvcSessionId: '00000000-fake-4000-8000-000000000000',
          issuedAtMs: clock.now,
        };
        const k3Key = uniqueId('k3cloud:http://127.0.0.1:8090/k3cloud/:5f1a2b3c4d5e6f:demo');
        await k3Store.get(k3Key, async () => k3Session);
        assert.deepEqual(await k3Store.get(k3Key, async () => assert.fail('no second login')), k3Session);

        const fxStore = new DynamoCredentialStore<FxiaokeCredential>({
          client: ctx.dynamo.client,
          tableName: ctx.tables.coordination,
          schema: fxiaokeCredentialSchema,
          clock: clock.clock,
          localCache: false,
        });
        const token: FxiaokeCredential = {
          id: 'token-digest-1',
          renewAtMs: clock.now + 6_600_000,
          expiresAtMs: clock.now + 7_200_000,
          flow: 'legacy',
          token: 'FAKECORPACCESSTOKEN0000000000000',
          corpId: 'FSCID_FAKE',
          issuedAtMs: clock.now,
        };
        const fxKey = uniqueId('fxiaoke:FSAID_5a4d80x');
        await fxStore.get(fxKey, async () => token);
        assert.deepEqual(await fxStore.get(fxKey, async () => assert.fail('no second token call')), token);
      });

      it('rejects an empty key with InvalidInputError', async () => {
        await assert.rejects(
          store().get('', async () => session(1, Date.now())),
          { code: 'STATE_BAD_KEY' },
        );
      });
    });
  });
}

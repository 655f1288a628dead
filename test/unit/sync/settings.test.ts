import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../lib/errors.ts';
import { redactString } from '../../../lib/log.ts';
import {
  type ParameterSource,
  readSyncSettings,
  SettingsCache,
  SettingsError,
  SSM_STALE_IF_ERROR_MS,
} from '../../../lib/sync/settings.ts';

/** A ParameterSource of the test's own (SSM is exercised over HTTP in test/integration/functions). */
class ScriptedSource implements ParameterSource {
  loads = 0;
  values: Record<string, string>;
  failWith: Error | undefined;

  constructor(values: Record<string, string>) {
    this.values = values;
  }

  async loadAll(): Promise<Record<string, string>> {
    this.loads += 1;
    if (this.failWith) throw this.failWith;
    return { ...this.values };
  }

  async loadOne(name: string): Promise<string> {
    const value = this.values[name];
    if (value === undefined) throw new Error(`no ${name}`);
    return value;
  }
}

describe('sync/settings', () => {
  describe('readSyncSettings', () => {
    it('reads defaults and the queue URLs', () => {
      const settings = readSyncSettings({
        SYNC_QUEUE_URL_ACCOUNT_TO_CUSTOMER: 'http://127.0.0.1:4566/000000000000/a.fifo',
        SYNC_CONFIG_PATH: 'config/sync.yaml',
      });
      assert.equal(settings.maxReceiveCount, 5);
      assert.deepEqual(settings.retry, { baseDelayMs: 10_000, maxDelayMs: 900_000 });
      assert.equal(settings.queues.accountToCustomer, 'http://127.0.0.1:4566/000000000000/a.fifo');
      assert.equal(settings.queues.crmWriteBack, undefined);
      assert.equal(settings.sandbox, false);
    });

    it('names every bad variable at once', () => {
      assert.throws(
        () =>
          readSyncSettings({
            SYNC_MAX_RECEIVE_COUNT: 'many',
            SYNC_CONFIG_SSM_PARAMETER: 'config/sync.yaml',
            FXIAOKE_TENANT_ID: 'abc',
          }),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.problems.length === 3 &&
          error.problems.some((p) => p.startsWith('SYNC_MAX_RECEIVE_COUNT')) &&
          error.problems.some((p) => p.startsWith('SYNC_CONFIG_SSM_PARAMETER')) &&
          error.problems.some((p) => p.startsWith('FXIAOKE_TENANT_ID')),
      );
    });
  });

  describe('SettingsCache', () => {
    it('merges SSM over the environment, caches for the TTL, and masks secrets in logs', async () => {
      let now = 1_000_000;
      const source = new ScriptedSource({ K3CLOUD_APP_SECRET: 'rotating-secret-one', LOG_LEVEL: 'debug' });
      const cache = new SettingsCache({
        env: { LOG_LEVEL: 'info', STATE_TABLE_INBOX: 'prod-inbox', EMPTY: '' },
        source,
        ttlMs: 60_000,
        clock: () => now,
      });
      const first = await cache.get();
      assert.equal(first.env.LOG_LEVEL, 'debug', 'SSM wins over the environment');
      assert.equal(first.env.STATE_TABLE_INBOX, 'prod-inbox');
      assert.equal('EMPTY' in first.env, false, 'empty values count as unset');
      assert.equal(redactString('secret is rotating-secret-one'), 'secret is [REDACTED]');

      now += 59_000;
      assert.equal((await cache.get()).version, first.version);
      assert.equal(source.loads, 1, 'cached within the TTL');

      source.values.K3CLOUD_APP_SECRET = 'rotating-secret-two';
      now += 2_000;
      const second = await cache.get();
      assert.equal(source.loads, 2);
      assert.equal(second.env.K3CLOUD_APP_SECRET, 'rotating-secret-two');
      assert.notEqual(
        second.version,
        first.version,
        'a changed value changes the version (clients are rebuilt)',
      );
    });

    it('keeps serving the last values through a short SSM outage, then reports it', async () => {
      let now = 0;
      const source = new ScriptedSource({ FXIAOKE_APP_SECRET: 'sandbox-like-secret' });
      const cache = new SettingsCache({ env: {}, source, ttlMs: 60_000, clock: () => now });
      await cache.get();
      source.failWith = new SettingsError('SSM down', {
        kind: 'transient',
        fault: 'theirs',
        code: 'SSM_READ_FAILED',
      });
      now += 120_000;
      assert.equal((await cache.get()).env.FXIAOKE_APP_SECRET, 'sandbox-like-secret');
      now += SSM_STALE_IF_ERROR_MS;
      await assert.rejects(cache.get(), SettingsError);
    });

    it('without a source, reads the environment once', async () => {
      const cache = new SettingsCache({ env: { A: '1' } });
      assert.equal((await cache.get()).env.A, '1');
      assert.equal(cache.usesSsm, false);
      await assert.rejects(cache.loadParameter('/x'), ConfigError);
    });
  });
});

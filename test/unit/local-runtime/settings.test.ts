import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  checkRealSettings,
  detectMode,
  functionSettings,
} from '../../../infra/local/runtime/function-settings.ts';
import { readLocalSettings } from '../../../infra/local/runtime/local-settings.ts';
import { ConfigError } from '../../../lib/errors.ts';
import { FXIAOKE_SANDBOX_IDENTITY } from '../../../lib/fxiaoke/config.ts';
import { K3CLOUD_SANDBOX_IDENTITY } from '../../../lib/k3cloud/config.ts';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

describe('local stack settings', () => {
  describe('readLocalSettings', () => {
    it('has defaults for everything and resolves paths against the repository', () => {
      const settings = readLocalSettings({}, '/srv/sync');
      assert.equal(settings.port, 3000);
      assert.equal(settings.host, '127.0.0.1');
      assert.equal(settings.dataDir, '/srv/sync/.data');
      assert.equal(settings.serverlessFile, '/srv/sync/serverless.yml');
      assert.equal(settings.stage, 'local');
      assert.equal(settings.isolation, 'worker');
      assert.equal(settings.control, true, 'control endpoint on for loopback');
      assert.equal(
        readLocalSettings({ HOST: '0.0.0.0' }, '/srv').control,
        false,
        'off when listening beyond loopback',
      );
    });

    it('names every bad variable at once', () => {
      assert.throws(
        () =>
          readLocalSettings(
            { PORT: 'eighty', LOCAL_ISOLATION: 'thread', LOCAL_SHUTDOWN_GRACE_MS: '-1' },
            '/srv',
          ),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.equal(error.problems.length, 3);
          assert.match(error.problems.join('\n'), /^PORT: must be a port number, got "eighty"$/m);
          assert.match(error.problems.join('\n'), /^LOCAL_ISOLATION: expected worker or inline/m);
          return true;
        },
      );
    });
  });

  describe('mode and real settings', () => {
    it('runs each system against its emulator when its URL is unset', () => {
      assert.deepEqual(detectMode({}), { k3: 'sandbox', fx: 'sandbox' });
      assert.deepEqual(
        detectMode({ K3CLOUD_SERVER_URL: 'https://erp.example.com/k3cloud/', FXIAOKE_BASE_URL: ' ' }),
        {
          k3: 'real',
          fx: 'sandbox',
        },
      );
    });

    it('checks both real systems and reports every problem together', () => {
      assert.throws(
        () =>
          checkRealSettings(
            {
              K3CLOUD_SERVER_URL: 'https://erp.example.com/k3cloud/',
              FXIAOKE_BASE_URL: 'https://open.fxiaoke.com',
            },
            { k3: 'real', fx: 'real' },
          ),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          const text = error.problems.join('\n');
          assert.match(text, /^K3CLOUD_ACCT_ID: is required/m);
          assert.match(text, /^FXIAOKE_APP_ID: is required/m);
          return true;
        },
      );
      assert.doesNotThrow(() => checkRealSettings({}, { k3: 'sandbox', fx: 'sandbox' }));
    });
  });

  describe('functionSettings', () => {
    it('gives the functions the sandbox identity with the emulators’ URLs and the example mapping config', () => {
      const settings = functionSettings({
        env: {
          LOG_LEVEL: 'debug',
          K3CLOUD_EMULATOR_PORT: '9000',
          STATE_TABLE_LINKS: 'mine',
          SYNC_RETRY_BASE_DELAY_MS: '500',
        },
        mode: { k3: 'sandbox', fx: 'sandbox' },
        k3EmulatorUrl: 'http://127.0.0.1:9000/k3cloud/',
        fxEmulatorUrl: 'http://127.0.0.1:9001',
        serviceDir: repo,
        declaredConfigPath: 'config/sync.yaml-that-does-not-exist',
      });
      assert.equal(settings.values.K3CLOUD_SERVER_URL, 'http://127.0.0.1:9000/k3cloud/');
      assert.equal(settings.values.K3CLOUD_ACCT_ID, K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_ACCT_ID);
      assert.equal(settings.values.FXIAOKE_BASE_URL, 'http://127.0.0.1:9001');
      assert.equal(settings.values.FXIAOKE_AES_KEY, FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_AES_KEY);
      assert.equal(settings.values.SYNC_RETRY_BASE_DELAY_MS, '500', 'the sync’s own settings pass through');
      assert.equal(
        settings.values.K3CLOUD_EMULATOR_PORT,
        undefined,
        'emulator settings are not function settings',
      );
      assert.equal(
        settings.values.STATE_TABLE_LINKS,
        undefined,
        'infrastructure wiring stays serverless.yml’s',
      );
      assert.equal(settings.values.LOG_LEVEL, undefined);
      assert.equal(settings.configPath, `${repo}config/sync.example.yaml`);
    });

    it('keeps the real systems’ values and refuses to start without a mapping config in real mode', () => {
      const env = {
        K3CLOUD_SERVER_URL: 'https://erp.example.com/k3cloud/',
        K3CLOUD_APP_SECRET: 'real-looking-secret-value',
        FXIAOKE_BASE_URL: 'https://open.fxiaoke.com',
      };
      assert.throws(
        () =>
          functionSettings({
            env,
            mode: { k3: 'real', fx: 'real' },
            serviceDir: repo,
            declaredConfigPath: 'config/no-such-config.yaml',
          }),
        (error: unknown) =>
          error instanceof ConfigError && /copy config\/sync\.example\.yaml/.test(error.message),
      );
      const ok = functionSettings({
        env: { ...env, SYNC_CONFIG_PATH: 'config/sync.example.yaml' },
        mode: { k3: 'real', fx: 'real' },
        serviceDir: repo,
        declaredConfigPath: 'config/sync.yaml',
      });
      assert.equal(ok.values.K3CLOUD_SERVER_URL, 'https://erp.example.com/k3cloud/');
      assert.equal(ok.values.K3CLOUD_APP_SECRET, 'real-looking-secret-value');
      assert.equal(ok.values.K3CLOUD_ACCT_ID, undefined, 'no sandbox identity leaks into real mode');
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  appDataSignature,
  gatewayClientSecrets,
  gatewaySignature,
  kdHmac,
  loginSign,
} from '../../../infra/local/k3cloud-emulator/auth.ts';

/** Worked vectors of shared/docs/k3cloud-webapi.md §2.4 and §2.6. */
const APP_ID = '123456_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX';
const APP_SECRET = '0123456789abcdef0123456789abcdef';

describe('k3cloud emulator auth: signature algorithms', () => {
  describe('loginSign', () => {
    it('reproduces the §2.4 LoginBySign vector (SHA-256 over the ordinally sorted parts)', () => {
      const parts = ['5f1a2b3c4d5e6f', 'demo', '123456_xyz', APP_SECRET, '1700000000'];
      assert.equal(
        loginSign(parts, 'sha256'),
        '9b0ee6129ad5817efe37972bf65b106dd65cb509dbdbaff27a38e2d4c1990df6',
      );
      assert.equal(
        loginSign([...parts].reverse(), 'sha256'),
        loginSign(parts, 'sha256'),
        'order of input is irrelevant',
      );
      assert.match(loginSign(parts, 'sha1'), /^[0-9a-f]{40}$/);
    });
  });

  describe('X-Kd-Signature', () => {
    it('reproduces the §2.6 vector: base64 of the hex HMAC of appId + raw appData', () => {
      const appData = '5f1a2b3c4d5e6f,demo,2052,0';
      assert.equal(Buffer.from(appData).toString('base64'), 'NWYxYTJiM2M0ZDVlNmYsZGVtbywyMDUyLDA=');
      assert.equal(
        appDataSignature(APP_ID, appData, APP_SECRET),
        'YTMyYjdhZDVhMWYyZDUyNGNmN2ZlMDkzNzJhNzQ0MzY3N2UyZjE3Yjg5ZDQ3ZTUxMjliZjc5NjY0OWJjNzk4NQ==',
      );
      assert.equal(
        Buffer.from(kdHmac('m', 'k'), 'base64').toString().length,
        64,
        'base64 of the 64-char hex text',
      );
    });
  });

  describe('X-Api-Signature (gateway)', () => {
    it('derives the §2.6 client secret and reproduces the §2.6 signature', () => {
      assert.deepEqual(gatewayClientSecrets(APP_ID), ['MDE3N2I2PzBrPzg4OD45N3IhK3B1InIk']);
      const path =
        '/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.ExecuteBillQuery.common.kdsvc';
      assert.equal(
        gatewaySignature(path, '1700000000', '1700000000', 'MDE3N2I2PzBrPzg4OD45N3IhK3B1InIk'),
        'N2M1YmZlZTUyZjc5YTRjMzU0MjkxMWVjODQ0YWEwZjQ0NzQyNWZjZjcwNGFhNzg0MzMxOGI5ZmI4YjNlMzUxOA==',
      );
    });

    it('offers both SDK fallbacks when the AppID part is not 32 characters (Java raw, Python empty)', () => {
      assert.deepEqual(gatewayClientSecrets('123456_xyz'), ['xyz', '']);
      assert.deepEqual(gatewayClientSecrets('noUnderscore'), ['', '']);
    });
  });
});

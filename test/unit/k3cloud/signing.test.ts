import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { z } from 'zod';
import {
  encodeSignaturePath,
  gatewayClientSecret,
  gatewaySignature,
  kdAppDataHeader,
  kdHmac,
  kdSignatureHeader,
  loginBySignSignature,
  signatureHeaders,
  splitAppId,
} from '../../../lib/k3cloud/signing.ts';

const vectorSchema = z.object({
  loginBySign: z.object({
    fields: z.object({
      acctId: z.string(),
      username: z.string(),
      appId: z.string(),
      appSecret: z.string(),
      timestampSeconds: z.number(),
    }),
    sortedConcatenation: z.string(),
    sha256: z.string(),
    sha1: z.string(),
  }),
  signatureHeaders: z.object({
    input: z.object({
      appId: z.string(),
      appSecret: z.string(),
      acctId: z.string(),
      username: z.string(),
      lcid: z.number(),
      orgNumber: z.string(),
      path: z.string(),
      timestampSeconds: z.number(),
    }),
    xKdAppdata: z.string(),
    xKdSignature: z.string(),
    gatewayClientSecret: z.string(),
    encodedPath: z.string(),
    xApiSignature: z.string(),
  }),
});

const vectors = vectorSchema.parse(
  JSON.parse(
    readFileSync(new URL('../../fixtures/k3cloud/client-signing-vectors.json', import.meta.url), 'utf8'),
  ),
);

describe('k3cloud signing', () => {
  describe('LoginBySign sign (spec §2.4)', () => {
    const { fields } = vectors.loginBySign;

    it('SHA-256 of the ordinally sorted fields reproduces the spec vector', () => {
      assert.equal(loginBySignSignature(fields, 'sha256'), vectors.loginBySign.sha256);
    });

    it('the SHA-1 variant for old servers hashes the same concatenation', () => {
      assert.equal(loginBySignSignature(fields, 'sha1'), vectors.loginBySign.sha1);
    });

    it('hashes the concatenation listed in the fixture', () => {
      const direct = createHash('sha256')
        .update(vectors.loginBySign.sortedConcatenation, 'utf8')
        .digest('hex');
      assert.equal(direct, vectors.loginBySign.sha256);
    });

    it('sorts ordinally (C# StringComparer.Ordinal), not by locale', () => {
      const mixed = { ...fields, acctId: 'Zeta', username: 'alpha', appId: '9lives' };
      // Ordinal: digits < upper case < lower case. A locale sort would put 'alpha' before 'Zeta'.
      const ordinal = [fields.appSecret, String(fields.timestampSeconds), '9lives', 'Zeta', 'alpha'].join('');
      const expected = createHash('sha256').update(ordinal, 'utf8').digest('hex');
      assert.equal(loginBySignSignature(mixed, 'sha256'), expected);
      assert.notEqual(loginBySignSignature({ ...mixed, timestampSeconds: 1700000001 }, 'sha256'), expected);
    });
  });

  describe('signature-mode headers (spec §2.6)', () => {
    const { input } = vectors.signatureHeaders;

    it('X-Kd-Appdata is base64 of "acct,user,lcid,org"', () => {
      assert.equal(kdAppDataHeader(input), vectors.signatureHeaders.xKdAppdata);
      assert.equal(
        Buffer.from(kdAppDataHeader(input), 'base64').toString('utf8'),
        '5f1a2b3c4d5e6f,demo,2052,0',
      );
    });

    it('X-Kd-Signature reproduces the vector the official SDKs send (§10)', () => {
      assert.equal(
        kdSignatureHeader(input.appId, input.appSecret, input),
        vectors.signatureHeaders.xKdSignature,
      );
    });

    it('KDHMAC is base64 of the lower-case hex digest, not of the raw digest', () => {
      const value = kdHmac('message', 'key');
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      assert.match(decoded, /^[0-9a-f]{64}$/);
    });

    it('the gateway secret decodes from AppID part 2 by XOR', () => {
      const { clientId, secretPart } = splitAppId(input.appId);
      assert.equal(clientId, '123456');
      assert.equal(gatewayClientSecret(secretPart ?? ''), vectors.signatureHeaders.gatewayClientSecret);
      assert.equal(
        gatewayClientSecret('short'),
        'short',
        'a part 2 that is not 32 chars is used raw (Java SDK)',
      );
    });

    it('the path is URL-encoded with "/" as %2F', () => {
      assert.equal(encodeSignaturePath(input.path), vectors.signatureHeaders.encodedPath);
    });

    it('X-Api-Signature reproduces the vector with second timestamps', () => {
      const secretPart = splitAppId(input.appId).secretPart ?? '';
      assert.equal(
        gatewaySignature({ secretPart, path: input.path, timestamp: '1700000000', nonce: '1700000000' }),
        vectors.signatureHeaders.xApiSignature,
      );
    });

    it('signatureHeaders assembles every header with nonce = timestamp (seconds)', () => {
      assert.deepEqual(signatureHeaders(input), {
        'X-Api-ClientID': '123456',
        'X-Api-Auth-Version': '2.0',
        'x-api-timestamp': '1700000000',
        'x-api-nonce': '1700000000',
        'x-api-signheaders': 'x-api-timestamp,x-api-nonce',
        'X-Api-Signature': vectors.signatureHeaders.xApiSignature,
        'X-Kd-Appkey': input.appId,
        'X-Kd-Appdata': vectors.signatureHeaders.xKdAppdata,
        'X-Kd-Signature': vectors.signatureHeaders.xKdSignature,
      });
    });

    it('an AppID without "_" sends an empty X-Api-Signature, like Java SDK 8.2.0', () => {
      const headers = signatureHeaders({ ...input, appId: 'plainappid' });
      assert.equal(headers['X-Api-Signature'], '');
      assert.equal(headers['X-Api-ClientID'], 'plainappid');
      assert.notEqual(headers['X-Kd-Signature'], vectors.signatureHeaders.xKdSignature);
    });
  });
});

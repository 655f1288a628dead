import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CredentialStore } from '../../../lib/credentials.ts';
import { type FxiaokeCredential, fxiaokeCredentialSchema } from '../../../lib/fxiaoke/token.ts';
import { type K3SessionCredential, k3SessionCredentialSchema } from '../../../lib/k3cloud/session.ts';
import type { RateLimiter } from '../../../lib/rate-limit.ts';
import { createState, stateTableNames } from '../../../lib/state/index.ts';

describe('createState', () => {
  it('builds every store over one client, and the vendor credential schemas fit the credential store', () => {
    // No request is made: building the stores is pure, so an unreachable endpoint is fine here.
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIAFAKEFAKEFAKEFAKE', secretAccessKey: 'fake' },
    });
    try {
      const state = createState({ client, tables: stateTableNames('unit') });
      // The type annotations are the test: the stores implement the foundation interfaces for the real
      // credential types of lib/k3cloud and lib/fxiaoke.
      const k3: CredentialStore<K3SessionCredential> = state.credentials(k3SessionCredentialSchema);
      const fxiaoke: CredentialStore<FxiaokeCredential> = state.credentials(fxiaokeCredentialSchema, {
        leaseMs: 10_000,
      });
      const limiter: RateLimiter = state.rateLimiter({ calls: 100, windowMs: 20_000 });
      assert.ok(k3 && fxiaoke && limiter && state.inbox && state.links && state.syncLog && state.cursors);
    } finally {
      client.destroy();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, SyncError } from '../../../lib/errors.ts';
import { K3CloudError } from '../../../lib/k3cloud/errors.ts';
import { MappingError } from '../../../lib/mappings/errors.ts';
import { busyRetryDelayMs, dispositionOf, retryDelayMs, shouldRetry } from '../../../lib/sync/outcome.ts';

const error = (kind: SyncError['kind'], retryAfterMs?: number) =>
  new SyncError('x', {
    kind,
    fault: 'theirs',
    code: 'X',
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });

describe('sync/outcome', () => {
  describe('shouldRetry', () => {
    it('retries transient, throttled, internal and outcome-unknown failures', () => {
      for (const kind of [
        'transient',
        'throttled',
        'internal',
        'session-expired',
        'quota-exhausted',
        'outcome-unknown',
      ] as const) {
        assert.equal(shouldRetry(error(kind)), true, kind);
      }
    });

    it('never retries business, not-found or invalid-input failures (final for this version)', () => {
      for (const kind of ['business', 'not-found', 'invalid-input'] as const) {
        assert.equal(shouldRetry(error(kind)), false, kind);
      }
    });

    it('a mapping that cannot handle this record is final; other configuration errors wait in the DLQ', () => {
      const mapping = new MappingError({ apiName: 'AccountObj', id: 'a1' }, [
        { kind: 'config', code: 'UNMAPPED_VALUE', zh: '字典缺值', en: 'value missing from a dictionary' },
      ]);
      assert.equal(shouldRetry(mapping), false);
      assert.equal(shouldRetry(new ConfigError(['organisation number 999 does not exist in K3Cloud'])), true);
      const login = new K3CloudError('login rejected', {
        kind: 'config',
        fault: 'ours',
        code: 'K3_LOGIN_REJECTED',
        operation: 'LoginBySign',
      });
      assert.equal(shouldRetry(login), true);
    });
  });

  describe('dispositionOf', () => {
    it('keeps only retryable failures on the queue', () => {
      assert.equal(dispositionOf({ outcome: 'succeeded' }), 'done');
      assert.equal(dispositionOf({ outcome: 'skipped' }), 'done');
      assert.equal(dispositionOf({ outcome: 'failed', error: error('business') }), 'done');
      assert.equal(dispositionOf({ outcome: 'failed', error: error('transient') }), 'retry');
    });
  });

  describe('retryDelayMs', () => {
    const policy = { baseDelayMs: 10_000, maxDelayMs: 900_000 };
    const middle = () => 0.5;

    it('doubles per receive, capped', () => {
      assert.deepEqual(
        [1, 2, 3, 4, 10, 40].map((n) => retryDelayMs(n, policy, undefined, middle)),
        [10_000, 20_000, 40_000, 80_000, 900_000, 900_000],
      );
    });

    it('spreads retries by ±20 %', () => {
      assert.equal(
        retryDelayMs(1, policy, undefined, () => 0),
        8_000,
      );
      assert.equal(
        retryDelayMs(1, policy, undefined, () => 0.999999),
        12_000,
      );
    });

    it('waits at least what the error asks for (K3 call limit, Fxiaoke quota reset)', () => {
      assert.equal(retryDelayMs(1, policy, error('throttled', 30_000), middle), 30_000);
      assert.equal(retryDelayMs(1, policy, error('quota-exhausted', 3_600_000), middle), 3_600_000);
    });
  });

  describe('busyRetryDelayMs', () => {
    const middle = () => 0.5;

    it('retries a record another worker holds after 1 s, 2 s, 4 s — never later than its claim ends', () => {
      assert.deepEqual(
        [1, 2, 3].map((n) => busyRetryDelayMs(n, 5, 120_000, middle)),
        [1_000, 2_000, 4_000],
      );
      assert.equal(busyRetryDelayMs(1, 5, 300, middle), 300);
      assert.equal(busyRetryDelayMs(2, 5, -50, middle), 0);
    });

    it('waits out the whole claim on the attempt before the last, so a long holder does not dead-letter it', () => {
      assert.equal(busyRetryDelayMs(4, 5, 90_000, middle), 90_000);
      assert.equal(busyRetryDelayMs(1, 2, 90_000, middle), 90_000);
    });
  });
});

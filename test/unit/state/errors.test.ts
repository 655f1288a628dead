import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, SyncError } from '../../../lib/errors.ts';
import { registerSecret } from '../../../lib/log.ts';
import { readStateConfig } from '../../../lib/state/config.ts';
import { isConditionalCheckFailed, StateError, toStateError } from '../../../lib/state/errors.ts';
import { describeError } from '../../../lib/state/sync-log.ts';

function sdkError(name: string, message = 'from DynamoDB'): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

describe('toStateError', () => {
  it('classifies SDK failures by what the caller should do', () => {
    const cases: [string, string, string][] = [
      ['ResourceNotFoundException', 'config', 'STATE_TABLE_MISSING'],
      ['AccessDeniedException', 'config', 'STATE_ACCESS_DENIED'],
      ['ProvisionedThroughputExceededException', 'throttled', 'STATE_THROTTLED'],
      ['ThrottlingException', 'throttled', 'STATE_THROTTLED'],
      ['InternalServerError', 'transient', 'STATE_UNAVAILABLE'],
      ['ValidationException', 'internal', 'STATE_REQUEST_REJECTED'],
      ['SomethingNew', 'internal', 'STATE_INTERNAL'],
    ];
    for (const [name, kind, code] of cases) {
      const error = toStateError(sdkError(name), 'GetItem', 'prod-links');
      assert.ok(error instanceof StateError, name);
      assert.equal(error.kind, kind, name);
      assert.equal(error.code, code, name);
      assert.deepEqual(error.remoteMessages, ['from DynamoDB'], 'the AWS message is kept verbatim');
    }
  });

  it('treats network failures as transient and names the table', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' });
    const error = toStateError(refused, 'PutItem', 'prod-inbox');
    assert.equal(error.kind, 'transient');
    assert.match(error.message, /PutItem prod-inbox/);
  });

  it('passes SyncErrors through and recognises condition failures', () => {
    const original = new SyncError('x', { kind: 'business', fault: 'caller', code: 'X' });
    assert.equal(toStateError(original, 'GetItem', 't'), original);
    assert.equal(isConditionalCheckFailed(sdkError('ConditionalCheckFailedException')), true);
    assert.equal(isConditionalCheckFailed(sdkError('ValidationException')), false);
  });
});

describe('describeError (sync log)', () => {
  it('keeps kind, code and the remote messages verbatim, with registered secrets masked', () => {
    registerSecret('fake-password-for-test-42');
    const described = describeError(
      new SyncError('登录失败 / login failed for fake-password-for-test-42', {
        kind: 'config',
        fault: 'ours',
        code: 'K3_LOGIN_FAILED',
        remoteMessages: ['用户名或密码错误', 'echo fake-password-for-test-42'],
      }),
    );
    assert.equal(described.code, 'K3_LOGIN_FAILED');
    assert.equal(described.remoteMessages[0], '用户名或密码错误');
    assert.doesNotMatch(JSON.stringify(described), /fake-password-for-test-42/);
  });

  it('records anything else as an internal error', () => {
    assert.deepEqual(describeError('boom'), {
      name: 'Error',
      kind: 'internal',
      fault: 'ours',
      code: 'INTERNAL',
      message: 'boom',
      remoteMessages: [],
    });
  });
});

describe('readStateConfig', () => {
  const env = {
    STATE_TABLE_COORDINATION: 'prod-coordination',
    STATE_TABLE_INBOX: 'prod-inbox',
    STATE_TABLE_LINKS: 'prod-links',
    STATE_TABLE_SYNC_LOG: 'prod-sync-log',
  };

  it('reads the table names and defaults the retentions (7 days inbox, 90 days sync log)', () => {
    const config = readStateConfig(env);
    assert.deepEqual(config.tables, {
      coordination: 'prod-coordination',
      inbox: 'prod-inbox',
      links: 'prod-links',
      syncLog: 'prod-sync-log',
    });
    assert.equal(config.inboxRetentionMs, 7 * 86_400_000);
    assert.equal(config.syncLogRetentionMs, 90 * 86_400_000);
    assert.equal(
      readStateConfig({ ...env, STATE_SYNC_LOG_RETENTION_DAYS: '30' }).syncLogRetentionMs,
      30 * 86_400_000,
    );
  });

  it('names every missing or bad variable at once', () => {
    assert.throws(
      () => readStateConfig({ STATE_TABLE_LINKS: 'bad name', STATE_INBOX_RETENTION_DAYS: '-1' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const text = error.problems.join('\n');
        for (const key of [
          'STATE_TABLE_COORDINATION',
          'STATE_TABLE_INBOX',
          'STATE_TABLE_LINKS',
          'STATE_TABLE_SYNC_LOG',
          'STATE_INBOX_RETENTION_DAYS',
        ]) {
          assert.match(text, new RegExp(key));
        }
        return true;
      },
    );
  });
});

/**
 * Errors of the DynamoDB state layer, translated from AWS SDK exceptions into the project's one error model.
 *
 * A conditional-write refusal is not an error here: every store turns it into an explicit outcome
 * (`'duplicate'`, `'stale'`, `'busy'`, …). What reaches a caller as a {@link StateError} is a real failure of
 * the table (missing, throttled, unreachable) or a stored item we cannot read back.
 */

import { NETWORK_ERROR_CODES, THROTTLING_ERROR_NAMES, TRANSIENT_ERROR_NAMES } from '../aws-wire.ts';
import { SyncError } from '../errors.ts';

export type StateErrorCode =
  | 'STATE_TABLE_MISSING'
  | 'STATE_ACCESS_DENIED'
  | 'STATE_THROTTLED'
  | 'STATE_UNAVAILABLE'
  | 'STATE_REQUEST_REJECTED'
  | 'STATE_CORRUPT_ITEM'
  | 'STATE_SCHEMA_MISMATCH'
  | 'STATE_INTERNAL'
  | 'STATE_CONTENTION'
  | 'CREDENTIAL_WAIT_TIMEOUT'
  | 'CREDENTIAL_ISSUE_FAILED'
  | 'CREDENTIAL_ALREADY_EXPIRED'
  | 'RATE_LIMIT_WAIT_EXCEEDED';

/** Base class of every error raised by `lib/state`. */
export class StateError extends SyncError {}

// Names rather than classes: stable across SDK versions, and they survive duplicated SDK copies. The
// throttling, transient and network lists are the wire's own (lib/aws-wire.ts), which retries exactly those.
const UNAVAILABLE_NAMES: ReadonlySet<string> = new Set([
  ...TRANSIENT_ERROR_NAMES,
  'TransactionConflictException',
]);
const DENIED_NAMES = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
]);

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

function errorCode(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return '';
}

/** Whether `error` is DynamoDB's refusal of a condition expression (an expected outcome, not a failure). */
export function isConditionalCheckFailed(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/**
 * Translate anything thrown by the AWS SDK into a {@link StateError} that names the operation and the table.
 * Already-translated errors pass through unchanged.
 */
export function toStateError(error: unknown, operation: string, table: string): SyncError {
  if (error instanceof SyncError) return error;
  const name = errorName(error);
  const message = error instanceof Error ? error.message : String(error);
  const where = `${operation} ${table}`;
  const remoteMessages = message ? [message] : [];
  if (name === 'ResourceNotFoundException') {
    return new StateError(
      `DynamoDB 表不存在：${table}（请先部署或运行本地建表）/ DynamoDB table not found: ${table} (deploy the stack or create the local tables first)`,
      { kind: 'config', fault: 'ours', code: 'STATE_TABLE_MISSING', remoteMessages, cause: error },
    );
  }
  if (DENIED_NAMES.has(name)) {
    return new StateError(
      `没有访问 DynamoDB 表 ${table} 的权限 / Not allowed to access DynamoDB table ${table} (${where})`,
      { kind: 'config', fault: 'ours', code: 'STATE_ACCESS_DENIED', remoteMessages, cause: error },
    );
  }
  if (THROTTLING_ERROR_NAMES.has(name)) {
    return new StateError(`DynamoDB 限流 / DynamoDB throttled the request (${where})`, {
      kind: 'throttled',
      fault: 'theirs',
      code: 'STATE_THROTTLED',
      remoteMessages,
      cause: error,
    });
  }
  if (UNAVAILABLE_NAMES.has(name) || NETWORK_ERROR_CODES.has(errorCode(error)) || name === 'AbortError') {
    return new StateError(`DynamoDB 暂时不可用 / DynamoDB is temporarily unavailable (${where})`, {
      kind: 'transient',
      fault: 'theirs',
      code: 'STATE_UNAVAILABLE',
      remoteMessages,
      cause: error,
    });
  }
  if (name === 'ValidationException' || name === 'SerializationException') {
    // DynamoDB refused the request itself (a malformed expression, an item over 400 KB): a bug on our side.
    return new StateError(`DynamoDB 拒绝了请求 / DynamoDB rejected the request (${where})`, {
      kind: 'internal',
      fault: 'ours',
      code: 'STATE_REQUEST_REJECTED',
      remoteMessages,
      cause: error,
    });
  }
  return new StateError(`DynamoDB 请求失败 / DynamoDB request failed (${where}): ${name || 'Error'}`, {
    kind: 'internal',
    fault: 'ours',
    code: 'STATE_INTERNAL',
    remoteMessages,
    cause: error,
  });
}

/** A stored item that does not have the shape we wrote (manual edit, older incompatible version). */
export function corruptItemError(table: string, key: string, detail: string, cause?: unknown): StateError {
  return new StateError(
    `DynamoDB 表 ${table} 中的记录 ${key} 格式无效 / Item ${key} in DynamoDB table ${table} is malformed: ${detail}`,
    { kind: 'internal', fault: 'ours', code: 'STATE_CORRUPT_ITEM', cause },
  );
}

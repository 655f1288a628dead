/**
 * The one error model shared by every area of the sync.
 *
 * Vendor quirks (K3Cloud MsgCode, Fxiaoke errorCode, …) are translated at the edge into a `SyncError`
 * subclass carrying an {@link ErrorKind}. The pipeline and the handlers decide what to do from `kind`
 * alone — re-authenticate, retry later, give up for this version, or look up before re-sending — and never
 * from message text.
 *
 * Messages are bilingual (Chinese first, then English) because our users are Chinese-speaking implementers;
 * whatever the remote system said is kept verbatim in `remoteMessages`, next to our explanation.
 */

/** Who has to act for the failure to go away. */
export type FaultSide =
  /** a bug or a wrong setting on our side */
  | 'ours'
  /** the remote system (K3Cloud, Fxiaoke, AWS) failed or refused */
  | 'theirs'
  /** the caller sent something we cannot accept (bad webhook body, bad CLI argument, bad CRM data) */
  | 'caller';

/**
 * What a failure means for the caller's next step.
 *
 * | kind              | retry?                     | typical source                                    |
 * |-------------------|----------------------------|---------------------------------------------------|
 * | session-expired   | once, after re-auth        | K3 MsgCode 1, Fxiaoke 20016                       |
 * | throttled         | later (backoff)            | K3 MsgCode 13/14, Fxiaoke 14001/30004             |
 * | quota-exhausted   | after `retryAfterMs`       | Fxiaoke 30002 (until midnight GMT+8)              |
 * | transient         | yes, with backoff          | timeouts, 5xx, resets, HTML bodies, Fxiaoke -1    |
 * | outcome-unknown   | never blindly: look up     | a write whose response was lost                   |
 * | business          | no (final for this version)| K3 validation (MsgCode 9/10/11…), Fxiaoke business|
 * | config            | no, until an operator acts | wrong credentials, missing quota, bad config      |
 * | invalid-input     | no                         | malformed input from the caller                   |
 * | not-found         | no                         | the record does not exist (any more)              |
 * | internal          | yes, a few times, then DLQ | an unexpected exception (a bug until shown not)   |
 */
export type ErrorKind =
  | 'session-expired'
  | 'throttled'
  | 'quota-exhausted'
  | 'transient'
  | 'outcome-unknown'
  | 'business'
  | 'config'
  | 'invalid-input'
  | 'not-found'
  | 'internal';

const RETRYABLE_KINDS: ReadonlySet<ErrorKind> = new Set([
  'session-expired',
  'throttled',
  'quota-exhausted',
  'transient',
  // An unexpected exception may be a passing condition; the queue's maxReceiveCount bounds the retries and
  // the DLQ keeps the message for replay, which beats dropping it on the first surprise.
  'internal',
]);

/** Whether retrying the same call later can succeed without anybody changing anything. */
export function isRetryableKind(kind: ErrorKind): boolean {
  return RETRYABLE_KINDS.has(kind);
}

export interface SyncErrorOptions {
  kind: ErrorKind;
  fault: FaultSide;
  /** Stable machine-readable code, e.g. `K3_MSGCODE_11`, `FXIAOKE_30003`, `WEBHOOK_BAD_SIGNATURE`. */
  code: string;
  /** Messages from the remote system, verbatim (never secrets). */
  remoteMessages?: readonly string[];
  /** How long to wait before retrying, when the remote system or our knowledge of it says so. */
  retryAfterMs?: number;
  cause?: unknown;
}

/** Base class of every error the sync raises on purpose. */
export class SyncError extends Error {
  readonly kind: ErrorKind;
  readonly fault: FaultSide;
  readonly code: string;
  readonly remoteMessages: readonly string[];
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: SyncErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.kind = options.kind;
    this.fault = options.fault;
    this.code = options.code;
    this.remoteMessages = options.remoteMessages ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Whether the same call may succeed later without anybody changing anything. */
  get retryable(): boolean {
    return isRetryableKind(this.kind);
  }

  /** A plain object safe to log or to store in the sync log (no stack, no cause chain with secrets). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      fault: this.fault,
      code: this.code,
      message: this.message,
      remoteMessages: this.remoteMessages,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }
}

/** A configuration value is missing or wrong; raised at start-up, naming every bad key. */
export class ConfigError extends SyncError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[], cause?: unknown) {
    super(`配置错误 / Configuration error:\n${problems.map((p) => `- ${p}`).join('\n')}`, {
      kind: 'config',
      fault: 'ours',
      code: 'CONFIG_INVALID',
      cause,
    });
    this.problems = problems;
  }
}

/** The caller gave us input we cannot accept; `expose` is always true for these. */
export class InvalidInputError extends SyncError {
  constructor(message: string, code = 'INVALID_INPUT', cause?: unknown) {
    super(message, { kind: 'invalid-input', fault: 'caller', code, cause });
  }
}

/** Classify anything thrown into a SyncError; an unknown error is `internal` (our side, bounded retries). */
export function asSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SyncError(`内部错误 / Internal error: ${message}`, {
    kind: 'internal',
    fault: 'ours',
    code: 'INTERNAL',
    cause: error,
  });
}

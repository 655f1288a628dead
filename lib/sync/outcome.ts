/**
 * What happened to one record in one attempt, and what that means for its queue message.
 *
 * The error's `kind` decides (lib/errors.ts): retryable kinds (and outcome-unknown, see {@link shouldRetry})
 * go back to the queue with backoff and end in
 * the dead-letter queue after `maxReceiveCount` receives; business errors are final for this version of the
 * record (the message is deleted, the sync log keeps K3's/Fxiaoke's message verbatim). Configuration errors
 * split in two: a mapping that cannot handle *this record* (a value missing from a dictionary) is final and
 * replayed once the config is fixed; anything else (rejected credentials, a missing table, an unknown
 * organisation number) blocks every record alike, so the message is retried and parks in the DLQ, from
 * where an operator redrives it after fixing the setting.
 */
import { asSyncError, type SyncError } from '../errors.ts';
import { MappingError } from '../mappings/errors.ts';
import type { RecordRef } from '../state/sync-log.ts';

export type RecordOutcome = 'succeeded' | 'skipped' | 'failed';

/** One record's result, as the sync log and the queue need it. */
export interface SyncResult {
  flow: string;
  /** The record the attempt was about. */
  source: RecordRef;
  outcome: RecordOutcome;
  /** Why it was skipped (`stale`, `duplicate`, `unchanged`, `life-status`, …) or a short note. */
  reason?: string | undefined;
  /** For `failed`. */
  error?: SyncError | undefined;
  target?: { system: 'crm' | 'erp'; type: string; ids?: string[]; number?: string } | undefined;
  sourceVersion?: number | undefined;
  /** Remote operations performed: `Save`, `Submit`, `Audit`, `Allocate`, `Push`, `create`, `update`. */
  operations?: string[] | undefined;
  /** Fxiaoke messageIds (inbox keys) of the events this result answers. */
  inboxMessageIds?: string[] | undefined;
  correlationId: string;
}

/** What the queue does with the message(s) behind a result. */
export type Disposition = 'done' | 'retry';

/**
 * Whether a failure should be retried (the message stays on the queue) or is final (deleted).
 * See the module comment for the reasoning.
 */
export function shouldRetry(error: SyncError): boolean {
  if (error.retryable) return true;
  // A lost write response: retried, because every write path here looks the record up (by external key,
  // by source bill) before it writes again — never a blind re-send.
  if (error.kind === 'outcome-unknown') return true;
  if (error.kind === 'config') return !(error instanceof MappingError);
  return false;
}

/** The disposition of a result: only retryable failures keep their message. */
export function dispositionOf(result: Pick<SyncResult, 'outcome' | 'error'>): Disposition {
  if (result.outcome !== 'failed' || result.error === undefined) return 'done';
  return shouldRetry(result.error) ? 'retry' : 'done';
}

/** A failed result from anything thrown. */
export function failed(
  base: Omit<SyncResult, 'outcome' | 'error'>,
  error: unknown,
): SyncResult & { error: SyncError } {
  return { ...base, outcome: 'failed', error: asSyncError(error) };
}

export interface BackoffPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Delay before the next attempt of a message received `receiveCount` times: exponential
 * (`base × 2^(n−1)`, capped at `max`), at least what the error asks for (`retryAfterMs`, e.g. K3's edit lock
 * or Fxiaoke's quota reset), with ±20 % jitter so a burst of failures does not come back as a burst.
 */
export function retryDelayMs(
  receiveCount: number,
  policy: BackoffPolicy,
  error?: Pick<SyncError, 'retryAfterMs'>,
  random: () => number = Math.random,
): number {
  const attempt = Math.max(1, Math.floor(receiveCount));
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  const jittered = exponential * (0.8 + 0.4 * random());
  const floor = error?.retryAfterMs ?? 0;
  return Math.round(Math.min(Math.max(jittered, floor), Math.max(policy.maxDelayMs, floor)));
}

/** The first retry of a record another worker holds comes back after about this long (then doubling). */
export const BUSY_RETRY_BASE_MS = 1_000;

/**
 * Delay before retrying a record another worker holds (`SYNC_RECORD_BUSY`): short and doubling — 1 s, 2 s,
 * 4 s (±20 %) — because the holder normally finishes in well under a second (an order creating the customer
 * a customer event also names), never longer than the holder's claim has left; the attempt before the last
 * waits for the whole remaining claim, so a holder that really takes long does not push the message into
 * the dead-letter queue. The claim itself keeps the work from being done twice: the retry finds the link
 * written by the holder and skips what is already synced.
 */
export function busyRetryDelayMs(
  receiveCount: number,
  maxReceiveCount: number,
  claimRemainingMs: number,
  random: () => number = Math.random,
): number {
  const remaining = Math.max(0, claimRemainingMs);
  if (receiveCount >= maxReceiveCount - 1) return Math.round(remaining);
  const attempt = Math.max(1, Math.floor(receiveCount));
  const short = BUSY_RETRY_BASE_MS * 2 ** Math.min(attempt - 1, 10) * (0.8 + 0.4 * random());
  return Math.round(Math.min(short, remaining));
}

/**
 * Errors the pipeline raises itself (everything remote arrives already classified by the clients): a record
 * another worker is busy with, an ERP record the pipeline must not touch, a dependency that failed.
 * Messages are Chinese, then English; `kind` decides retry as everywhere (lib/errors.ts).
 */
import { SyncError, type SyncErrorOptions } from '../errors.ts';

/** Base class of the pipeline's own errors. */
export class PipelineError extends SyncError {
  constructor(message: string, options: SyncErrorOptions) {
    super(message, options);
  }
}

/** The code of {@link recordBusy}: the queue retries it soon (`busyRetryDelayMs`), not with the usual backoff. */
export const RECORD_BUSY_CODE = 'SYNC_RECORD_BUSY';

/**
 * Another worker holds the record's claim (an earlier event still in flight, or the order flow creating the
 * customer this order needs). Transient: the message comes back soon and again after the claim is released
 * or expires; `retryAfterMs` is what the claim has left (see `busyRetryDelayMs`).
 */
export function recordBusy(what: string, retryAfterMs: number): PipelineError {
  return new PipelineError(
    `${what} 正由另一个任务处理，稍后重试 / ${what} is being synced by another worker; retrying later`,
    {
      kind: 'transient',
      fault: 'ours',
      code: RECORD_BUSY_CODE,
      retryAfterMs: Math.max(1_000, retryAfterMs),
    },
  );
}

/** More than one ERP record carries the external key: creating or updating either would be a guess. */
export function duplicateExternalKey(formId: string, key: string, numbers: readonly string[]): PipelineError {
  return new PipelineError(
    `金蝶 ${formId} 中有多条记录使用同一外部键 ${key}（${numbers.join(', ')}），请先在金蝶中合并或清理 / several K3 ${formId} records carry the external key ${key} (${numbers.join(', ')}); merge or clean them up in K3 first`,
    { kind: 'business', fault: 'theirs', code: 'DUPLICATE_EXTERNAL_KEY' },
  );
}

/** An audited ERP bill must be un-audited to change, and the flow's switch says not to. */
export function auditedUpdateDisabled(formId: string, number: string, flowPath: string): PipelineError {
  return new PipelineError(
    `金蝶 ${formId} ${number} 已审核，不允许修改（${flowPath}.unAuditToUpdate 为 false，未反审核）/ K3 ${formId} ${number} is audited and cannot be modified (${flowPath}.unAuditToUpdate is false, so it was not un-audited)`,
    { kind: 'business', fault: 'caller', code: 'K3_AUDITED_UPDATE_DISABLED' },
  );
}

/** The link table points this record at another ERP record than the one just written. */
export function linkConflict(what: string, stored: string | undefined, written: string): PipelineError {
  return new PipelineError(
    `${what} 的链接指向另一条金蝶记录（${stored ?? '?'}，本次写入 ${written}），请人工核对 / the link of ${what} points at another K3 record (${stored ?? '?'}, this write: ${written}); check by hand`,
    { kind: 'business', fault: 'ours', code: 'LINK_CONFLICT' },
  );
}

/** A record this one depends on (the order's customer) could not be synced. */
export function dependencyFailed(what: string, cause: SyncError): PipelineError {
  return new PipelineError(
    `依赖的 ${what} 同步失败：${cause.message} / the ${what} this record needs failed to sync: ${cause.message}`,
    {
      kind: cause.kind,
      fault: cause.fault,
      code: `DEPENDENCY_${cause.code}`,
      remoteMessages: cause.remoteMessages,
      ...(cause.retryAfterMs === undefined ? {} : { retryAfterMs: cause.retryAfterMs }),
      cause,
    },
  );
}

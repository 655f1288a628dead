/**
 * The K3Cloud side of the one error model: every failure of the client is a {@link K3CloudError}, whose
 * `kind` (from `lib/errors.ts`) tells the pipeline what to do next. Only this folder knows MsgCode.
 *
 * | class                 | kind              | retry by the client            | examples                               |
 * |-----------------------|-------------------|--------------------------------|----------------------------------------|
 * | session lost          | session-expired   | once, after re-login           | MsgCode 1 `会话信息已丢失，请重新登录`   |
 * | business / validation | business          | never                          | MsgCode 2–12 (except 10 → not-found)  |
 * | not found             | not-found         | never                          | MsgCode 10, View of a missing bill     |
 * | throttled / lock      | throttled         | never (caller later, delay)    | MsgCode 13, 14, `…冲突，请稍候再使用`   |
 * | transport             | transient         | reads only, with backoff       | timeout, reset, HTTP 5xx, HTML, WAF    |
 * | outcome unknown       | outcome-unknown   | never: look up before re-send  | write sent, response lost              |
 * | configuration         | config            | never, until an operator acts  | wrong password/secret, licence expired |
 * | caller input          | invalid-input     | never                          | empty formId, no numbers               |
 */
import { type ErrorKind, type FaultSide, SyncError } from '../errors.ts';

/** One row of `ResponseStatus.Errors` (or `SuccessMessages`), normalised. */
export interface K3MessageRow {
  /** The field K3 blames, e.g. `FBillNo`; `null` when the message is about the whole bill. */
  fieldName: string | null;
  /** K3's text, verbatim. */
  message: string;
  /** Index of the data package the row is about (BatchSave: index into the input array). */
  dIndex: number | null;
}

/** One row of `ResponseStatus.SuccessEntitys`, normalised (ids as strings, whatever the server sent). */
export interface K3SuccessEntity {
  id: string | null;
  number: string | null;
  dIndex: number | null;
}

/** Meaning of each documented MsgCode (spec §3.3), Chinese as in Kingdee's docs, then English. */
export const K3_MSG_CODE_MEANINGS: Readonly<Record<number, string>> = {
  0: '默认 / default',
  1: '上下文丢失 / session (context) lost',
  2: '没有权限 / no permission',
  3: '操作标识为空 / operation id empty',
  4: '异常 / server exception',
  5: '单据标识为空 / form id empty',
  6: '数据库操作失败 / database operation failed',
  7: '许可错误 / licence error',
  8: '参数错误 / bad parameter',
  9: '指定字段/值不存在 / field or value does not exist',
  10: '未找到对应数据 / data not found',
  11: '验证失败 / validation failed',
  12: '不可操作 / operation not allowed',
  13: '网控冲突 / edit lock (network control) conflict',
  14: '调用限制 / call limit reached',
  15: '禁止管理员登录 / administrator login forbidden',
};

export function describeMsgCode(msgCode: number | undefined): string {
  if (msgCode === undefined) return '无 MsgCode / no MsgCode';
  return `MsgCode ${msgCode} ${K3_MSG_CODE_MEANINGS[msgCode] ?? '未知 / undocumented'}`;
}

export interface K3CloudErrorOptions {
  kind: ErrorKind;
  fault: FaultSide;
  code: string;
  /** Web API operation as on the wire: `Save`, `ExcuteOperation`, `LoginBySign`, … */
  operation: string;
  formId?: string | undefined;
  msgCode?: number | undefined;
  errors?: readonly K3MessageRow[];
  successEntities?: readonly K3SuccessEntity[];
  httpStatus?: number | undefined;
  retryAfterMs?: number | undefined;
  /** Extra verbatim texts from the server that are not error rows (login Message, HTML title, …). */
  remoteMessages?: readonly string[];
  cause?: unknown;
}

/**
 * Every failure of the K3Cloud client. Never contains secrets: messages are built from the operation, the
 * form, MsgCode and K3's own texts; the session, signatures and passwords never enter them.
 */
export class K3CloudError extends SyncError {
  readonly operation: string;
  readonly formId: string | undefined;
  readonly msgCode: number | undefined;
  /** K3's per-row errors, verbatim, with the field names and data-package indexes. */
  readonly errors: readonly K3MessageRow[];
  /** Rows that did succeed in a call that failed as a whole (e.g. Audit of several numbers). */
  readonly successEntities: readonly K3SuccessEntity[];
  readonly httpStatus: number | undefined;

  constructor(message: string, options: K3CloudErrorOptions) {
    const errors = options.errors ?? [];
    super(message, {
      kind: options.kind,
      fault: options.fault,
      code: options.code,
      remoteMessages: [...(options.remoteMessages ?? []), ...errors.map((row) => row.message)],
      ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
      cause: options.cause,
    });
    this.operation = options.operation;
    this.formId = options.formId;
    this.msgCode = options.msgCode;
    this.errors = errors;
    this.successEntities = options.successEntities ?? [];
    this.httpStatus = options.httpStatus;
  }

  /** Field names K3 blamed (deduplicated, without nulls), e.g. `['FBillNo']`. */
  get fieldNames(): string[] {
    return [...new Set(this.errors.flatMap((row) => (row.fieldName ? [row.fieldName] : [])))];
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      operation: this.operation,
      ...(this.formId === undefined ? {} : { formId: this.formId }),
      ...(this.msgCode === undefined ? {} : { msgCode: this.msgCode }),
      ...(this.httpStatus === undefined ? {} : { httpStatus: this.httpStatus }),
      errors: this.errors,
      ...(this.successEntities.length === 0 ? {} : { successEntities: this.successEntities }),
    };
  }
}

/** `[Save BD_Customer]` — where a message comes from. */
export function callLabel(operation: string, formId: string | undefined): string {
  return formId ? `[${operation} ${formId}]` : `[${operation}]`;
}

/** Render K3's rows for a message: `违反字段唯一性要求…（FBillNo）; …`. */
export function formatRows(rows: readonly K3MessageRow[]): string {
  return rows
    .map((row) => (row.fieldName ? `${row.message}（${row.fieldName}）` : row.message))
    .filter((text) => text.length > 0)
    .join('; ');
}

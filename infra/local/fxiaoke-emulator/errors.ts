/**
 * Fxiaoke's error codes and the error the emulator throws to answer one.
 *
 * Every Fxiaoke response is HTTP 200 with `{traceId, errorCode, errorMessage, errorDescription}` (spec §1.2);
 * the codes and their Chinese texts come from the global return-code table (spec §7, developer site
 * `codes.html`). `errorMessage` carries Fxiaoke's text; `errorDescription` carries our bilingual explanation
 * of what exactly was wrong, so a developer reading a failed call sees both.
 *
 * Object-level business errors (a required field missing, a lookup to a record that does not exist, a record
 * that is not found) are not in the global table — spec §4.2/§7 say their codes are UNKNOWN. The emulator
 * uses the two codes below for them; they are exported so tests and docs name them, and a client should
 * treat any non-zero code it does not know as a business error anyway.
 */
import { SyncError } from '../../../lib/errors.ts';

/**
 * ASSUMPTION (spec §7: UNKNOWN): code for "the data fails object validation" (required field, bad value,
 * unknown option, lookup target missing, locked or invalidated record, wrong life-status transition).
 */
export const FX_CODE_DATA_VALIDATION = 320001;
/** ASSUMPTION (spec §4.2: UNKNOWN): code for "record not found, hard-deleted, or not visible to the user". */
export const FX_CODE_DATA_NOT_FOUND = 320002;

/** Texts from Fxiaoke's global return-code table (spec §7). */
export const FX_CODE_TEXT: Readonly<Record<number, string>> = {
  [-2]: '系统错误',
  [-1]: '系统繁忙',
  0: '请求成功',
  10001: '缺少参数appId',
  10002: '缺少参数appSecret',
  10006: '缺少参数scope',
  10010: '缺少参数openUserId',
  10012: '缺少参数permanentCode',
  10013: '缺少参数corpAccessToken',
  10014: '缺少参数corpId',
  11008: '参数openUserId不合法',
  11014: '参数corpAccessToken不合法',
  12004: 'POST的数据包为空',
  14001: '接口调用超过限制',
  15002: '参数不合法',
  20006: 'appId或appSecret错误',
  20012: 'openUserId未找到',
  20015: '永久授权码错误',
  20016: 'corpAccessToken不存在或者已经过期',
  20017: 'corpId未找到',
  30002: '当天访问频次超限（0点重新统计）',
  30003: '客户没有购买openapi配额，需要提open api订单进行购买',
  30004: '秒频次超限',
  32000: '参数错误',
  50009: '服务异常，如:超时',
  [FX_CODE_DATA_VALIDATION]: '数据校验失败',
  [FX_CODE_DATA_NOT_FOUND]: '数据不存在或已被删除',
};

/**
 * A Fxiaoke error answer. Thrown anywhere below the HTTP layer, which turns it into the envelope.
 * `kind`/`fault` follow the project's error model so the emulator's own logs classify it like the client does.
 */
export class FxiaokeApiError extends SyncError {
  readonly errorCode: number;
  readonly errorMessage: string;
  readonly errorDescription: string;

  /**
   * @param errorCode Fxiaoke's code.
   * @param description What exactly was wrong, Chinese then English (goes to `errorDescription`).
   * @param errorMessage Overrides the table text (for codes whose wire text is known verbatim, e.g. 10013).
   */
  constructor(errorCode: number, description: string, errorMessage?: string) {
    const message = errorMessage ?? FX_CODE_TEXT[errorCode] ?? '请求失败';
    super(`${message}: ${description}`, {
      kind: kindOf(errorCode),
      fault: errorCode === -1 || errorCode === -2 || errorCode === 50009 ? 'theirs' : 'caller',
      code: `FXIAOKE_${errorCode}`,
      remoteMessages: [message],
    });
    this.errorCode = errorCode;
    this.errorMessage = message;
    this.errorDescription = description;
  }
}

function kindOf(code: number): SyncError['kind'] {
  if (code === 20016) return 'session-expired';
  if (code === 14001 || code === 30004) return 'throttled';
  if (code === 30002) return 'quota-exhausted';
  if (code === -1 || code === -2 || code === 50009) return 'transient';
  if (code === FX_CODE_DATA_NOT_FOUND) return 'not-found';
  if (code === FX_CODE_DATA_VALIDATION) return 'business';
  if (code === 20006 || code === 20015 || code === 30003) return 'config';
  return 'invalid-input';
}

/** `32000 参数错误` for a missing or mistyped request parameter of a CRM call. */
export function missingParameter(name: string): FxiaokeApiError {
  return new FxiaokeApiError(32000, `缺少参数 ${name} / Missing parameter "${name}"`);
}

/** `15002 参数不合法` for a parameter whose value is not acceptable. */
export function invalidParameter(chinese: string, english: string): FxiaokeApiError {
  return new FxiaokeApiError(15002, `${chinese} / ${english}`);
}

/** Business validation of record data failed (see {@link FX_CODE_DATA_VALIDATION}). */
export function validationFailed(chinese: string, english: string): FxiaokeApiError {
  return new FxiaokeApiError(FX_CODE_DATA_VALIDATION, `${chinese} / ${english}`, chinese);
}

/** The record does not exist (any more) or the current user may not see it. */
export function dataNotFound(apiName: string, id: string): FxiaokeApiError {
  return new FxiaokeApiError(
    FX_CODE_DATA_NOT_FOUND,
    `${apiName} 数据 ${id} 不存在或已被删除 / ${apiName} record ${id} does not exist, was deleted, or is not visible to this user`,
  );
}

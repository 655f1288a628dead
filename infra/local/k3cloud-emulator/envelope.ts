/**
 * K3Cloud's response envelope, byte-shape-faithful to the real captures in spec §3.3 / §6 / §2.7:
 * key order `ErrorCode` (failure only) → `IsSuccess` → `Errors` → `SuccessEntitys` → `SuccessMessages` →
 * `MsgCode`; numeric ids; business failures are HTTP 200.
 */

export interface K3Message {
  FieldName: string | null;
  Message: string;
  DIndex: number;
}

export interface K3SuccessEntity {
  Id: number;
  Number: string;
  DIndex: number;
}

/** MsgCode values (spec §3.3). */
export const MSG = {
  ok: 0,
  contextLost: 1,
  noPermission: 2,
  exception: 4,
  badParameter: 8,
  fieldMissing: 9,
  notFound: 10,
  validation: 11,
  notOperable: 12,
  networkLock: 13,
  callLimit: 14,
} as const;

export interface ResponseStatus {
  ErrorCode?: number;
  IsSuccess: boolean;
  Errors: K3Message[];
  SuccessEntitys: K3SuccessEntity[];
  SuccessMessages: K3Message[];
  MsgCode: number;
}

/** Build a ResponseStatus: a failure as soon as there is one error; MsgCode is the first error's. */
export function responseStatus(parts: {
  errors?: K3Message[];
  successEntities?: K3SuccessEntity[];
  successMessages?: K3Message[];
  msgCode?: number;
}): ResponseStatus {
  const errors = parts.errors ?? [];
  const failed = errors.length > 0;
  const status: ResponseStatus = failed
    ? {
        ErrorCode: 500,
        IsSuccess: false,
        Errors: errors,
        SuccessEntitys: [],
        SuccessMessages: [],
        MsgCode: parts.msgCode ?? MSG.validation,
      }
    : { IsSuccess: true, Errors: [], SuccessEntitys: [], SuccessMessages: [], MsgCode: MSG.ok };
  status.SuccessEntitys = parts.successEntities ?? [];
  status.SuccessMessages = parts.successMessages ?? [];
  return status;
}

/** `{"Result":{"ResponseStatus":{…failure…}}}` with one error. */
export function failureEnvelope(
  message: string,
  msgCode: number,
  fieldName: string | null = null,
): { Result: { ResponseStatus: ResponseStatus } } {
  return {
    Result: {
      ResponseStatus: responseStatus({
        errors: [{ FieldName: fieldName, Message: message, DIndex: 0 }],
        msgCode,
      }),
    },
  };
}

/** ExecuteBillQuery (and BillQuery) wrap any error envelope in two arrays (spec §4.5: `[[{…}]]`). */
export function wrapQueryError<T>(envelope: T): T[][] {
  return [[envelope]];
}

/**
 * A business failure raised inside an operation; the operation turns it into its envelope.
 * Carrying several messages lets Save report every missing field at once, as K3 does.
 */
export class K3Failure extends Error {
  readonly errors: K3Message[];
  readonly msgCode: number;

  constructor(errors: K3Message[] | string, msgCode: number, fieldName: string | null = null) {
    const list = typeof errors === 'string' ? [{ FieldName: fieldName, Message: errors, DIndex: 0 }] : errors;
    super(list.map((e) => e.Message).join('; '));
    this.errors = list;
    this.msgCode = msgCode;
  }
}

/** The one text K3 answers for a missing, expired or unauthorised session (spec §2.7, real capture). */
export const SESSION_LOST_MESSAGE = '会话信息已丢失，请重新登录';

export function sessionLostEnvelope(): { Result: { ResponseStatus: ResponseStatus } } {
  return failureEnvelope(SESSION_LOST_MESSAGE, MSG.contextLost);
}

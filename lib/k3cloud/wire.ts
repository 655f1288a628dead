/**
 * The K3Cloud wire format: service paths, request bodies, and zod schemas of the responses.
 *
 * Responses are parsed leniently in *types* and strictly in *shape*: real servers send booleans and numbers
 * (`"IsSuccess":true`, `"Id":140670`) while Kingdee's documentation templates show strings
 * (`"IsSuccess":"false"`, `"MsgCode":""`), and clients in the wild meet both (spec §3.2). Both normalise
 * to the same values here.
 */
import { z } from 'zod';
import type { K3MessageRow, K3SuccessEntity } from './errors.ts';

const STUB_NAMESPACE = 'Kingdee.BOS.WebApi.ServicesStub.';

/** Operations of `DynamicFormService`, spelled as on the wire (`ExcuteOperation` is Kingdee's spelling). */
export const K3_FORM_OPERATIONS = [
  'Save',
  'BatchSave',
  'Draft',
  'View',
  'ExecuteBillQuery',
  'BillQuery',
  'Submit',
  'Audit',
  'UnAudit',
  'Delete',
  'Push',
  'ExcuteOperation',
  'Allocate',
] as const;
export type K3FormOperation = (typeof K3_FORM_OPERATIONS)[number];

export const K3_LOGIN_OPERATIONS = ['ValidateUser', 'LoginByAppSecret', 'LoginBySign'] as const;
export type K3LoginOperation = (typeof K3_LOGIN_OPERATIONS)[number];

/** Every operation the client calls. */
export const K3_OPERATIONS = [...K3_FORM_OPERATIONS, ...K3_LOGIN_OPERATIONS, 'GetDataCenterList'] as const;
export type K3Operation = (typeof K3_OPERATIONS)[number];

/**
 * Operations that change data. Their outcome is unknown when the request may have reached the server and
 * the answer was lost, and the client never re-sends them on its own (MsgCode 1 excepted: the server refused
 * before doing anything).
 */
export const K3_WRITE_OPERATIONS: ReadonlySet<K3Operation> = new Set<K3Operation>([
  'Save',
  'BatchSave',
  'Draft',
  'Submit',
  'Audit',
  'UnAudit',
  'Delete',
  'Push',
  'ExcuteOperation',
  'Allocate',
]);

/** Service name (without `.common.kdsvc`) of an operation. */
export function serviceName(operation: K3Operation): string {
  switch (operation) {
    case 'ValidateUser':
    case 'LoginByAppSecret':
    case 'LoginBySign':
      return `${STUB_NAMESPACE}AuthService.${operation}`;
    case 'GetDataCenterList':
      // A different namespace from every other call (spec §1.3, §4.13).
      return 'Kingdee.BOS.ServiceFacade.ServicesStub.Account.AccountService.GetDataCenterList';
    default:
      return `${STUB_NAMESPACE}DynamicFormService.${operation}`;
  }
}

/** Full URL of an operation under a site root ending in `/` (e.g. `https://erp.example.com/k3cloud/`). */
export function operationUrl(serverUrl: string, operation: K3Operation): URL {
  const root = serverUrl.endsWith('/') ? serverUrl : `${serverUrl}/`;
  return new URL(`${serviceName(operation)}.common.kdsvc`, root);
}

/**
 * How request bodies are laid out (spec §3.1); servers accept both.
 * - `positional`: `{"parameters":[formId, "<data as JSON string>"]}` — the official Java SDK 8.2.0 format.
 * - `named`: `{"formid":formId,"data":{…}}` — the official Python SDK format.
 */
export type K3BodyStyle = 'positional' | 'named';

/**
 * JSON with `<`, `>`, `&`, `'` and `=` written as `\u00XX`, as Gson does for the official Java SDK.
 * The server decodes it to the same value, while WAFs in front of K3Cloud that block "suspicious" raw `<`
 * (spec §7.9, rule `caller_in_less_Point_Bracket`) no longer see one. Non-ASCII stays raw UTF-8.
 *
 * @throws {TypeError} when the value cannot be serialised (BigInt, cycles) — callers turn it into input errors.
 */
export function htmlSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&'=]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Body of a `DynamicFormService` call. `args` are the named arguments in positional order. */
export function formCallBody(style: K3BodyStyle, args: ReadonlyArray<readonly [string, unknown]>): string {
  if (style === 'named') {
    return htmlSafeJson(Object.fromEntries(args));
  }
  // Positional: the `data` argument travels as a JSON string (Java SDK); scalars stay as they are.
  return htmlSafeJson({
    parameters: args.map(([name, value]) => (name === 'data' ? JSON.stringify(value) : value)),
  });
}

// ---------------------------------------------------------------------------------------------------------
// Response schemas

/** `true`/`false` as JSON booleans or the doc templates' strings. */
const boolish = z.union([z.boolean(), z.string(), z.number()]).transform((value) => {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  return value.trim().toLowerCase() === 'true';
});

/** A number as number or numeric string; `""`/`null`/missing become `undefined`. */
const intish = z
  .union([z.number(), z.string(), z.null()])
  .optional()
  .transform((value) => {
    if (value === null || value === undefined) return undefined;
    if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
    const trimmed = value.trim();
    if (trimmed === '' || !/^-?\d+$/.test(trimmed)) return undefined;
    return Number(trimmed);
  });

/** Ids arrive as numbers from real servers and as strings in templates; we carry them as strings. */
const idish = z
  .union([z.number(), z.string(), z.null()])
  .optional()
  .transform((value) => (value === null || value === undefined || value === '' ? null : String(value)));

const nullableText = z
  .union([z.string(), z.number(), z.null()])
  .optional()
  .transform((value) => (value === null || value === undefined ? null : String(value)));

const messageRowSchema = z
  .looseObject({ FieldName: nullableText, Message: nullableText, DIndex: intish })
  .transform(
    (row): K3MessageRow => ({
      fieldName: row.FieldName === '' ? null : row.FieldName,
      message: row.Message ?? '',
      dIndex: row.DIndex ?? null,
    }),
  );

const successEntitySchema = z
  .looseObject({ Id: idish, Number: nullableText, DIndex: intish, BillNo: nullableText })
  .transform(
    (row): K3SuccessEntity => ({
      id: row.Id,
      number: row.Number ?? row.BillNo,
      dIndex: row.DIndex ?? null,
    }),
  );

const rows = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((value) => value ?? []);

/** `ResponseStatus` / `ConvertResponseStatus`, normalised. */
export const responseStatusSchema = z
  .looseObject({
    ErrorCode: intish,
    IsSuccess: boolish,
    Errors: rows(messageRowSchema),
    SuccessEntitys: rows(successEntitySchema),
    SuccessMessages: rows(messageRowSchema),
    MsgCode: intish,
  })
  .transform((status) => ({
    isSuccess: status.IsSuccess,
    errorCode: status.ErrorCode,
    msgCode: status.MsgCode,
    errors: status.Errors,
    successEntities: status.SuccessEntitys,
    successMessages: status.SuccessMessages,
  }));

export type K3ResponseStatus = z.output<typeof responseStatusSchema>;

/** `{"Result":{"ResponseStatus":…,"Id":…,"Number":…,"NeedReturnData":…}}` (Save, Draft, Submit, …). */
export const envelopeSchema = z.looseObject({
  Result: z.looseObject({
    ResponseStatus: responseStatusSchema.nullish(),
    ConvertResponseStatus: responseStatusSchema.nullish(),
    Id: idish,
    Number: nullableText,
    NeedReturnData: z.unknown().optional(),
    Result: z.unknown().optional(),
  }),
});

export type K3Envelope = z.output<typeof envelopeSchema>;

/** A scalar cell of an ExecuteBillQuery row. */
export type K3QueryValue = string | number | boolean | null;
export type K3QueryRow = K3QueryValue[];

export const queryRowsSchema = z.array(z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])));

export const billQueryRowsSchema = z.array(z.record(z.string(), z.unknown()));

/** `AuthService.*` answer (spec §2.1). Only the fields the client decides on are typed. */
export const loginResultSchema = z.looseObject({
  Message: nullableText,
  MessageCode: nullableText,
  LoginResultType: intish,
  Context: z
    .looseObject({ SessionId: nullableText, UserName: nullableText, DisplayVersion: nullableText })
    .nullish(),
  KDSVCSessionId: nullableText,
  FormId: nullableText,
  IsSuccessByAPI: boolish.nullish(),
});

export type K3LoginResult = z.output<typeof loginResultSchema>;

export const dataCenterListSchema = z.array(
  z
    .looseObject({
      Id: idish,
      Number: nullableText,
      Name: nullableText,
      Version: nullableText,
      GDCID: nullableText,
      AuthenticationMethods: z
        .array(z.looseObject({ AuthenticationMethodType: intish, Name: nullableText }))
        .nullish(),
    })
    .transform((row) => ({
      id: row.Id ?? '',
      number: row.Number,
      name: row.Name,
      version: row.Version,
      gdcId: row.GDCID,
      authenticationMethods: (row.AuthenticationMethods ?? []).map((method) => ({
        type: method.AuthenticationMethodType ?? null,
        name: method.Name,
      })),
    })),
);

export type K3DataCenter = z.output<typeof dataCenterListSchema>[number];

/** A WAF/proxy block page in JSON (spec §7.9): `[{"actionname":"showConfirm","params":[{"msg":…}]}]`. */
export const wafBlockSchema = z
  .array(
    z.looseObject({
      actionname: z.string(),
      params: z.array(z.looseObject({ msg: z.string().optional() })).optional(),
    }),
  )
  .min(1);

/** Kingdee API gateway error (spec §1.1): HTTP 519 with `{errcode, description, description_cn}`. */
export const gatewayErrorSchema = z.looseObject({
  errcode: z.union([z.number(), z.string()]),
  description: z.string().nullish(),
  description_cn: z.string().nullish(),
});

/** The JSON after `response_error:` (a serialised KDException, spec §3.2; shape unverified). */
export const kdExceptionSchema = z.looseObject({
  Message: z.string().nullish(),
  InnerExWrapper: z.looseObject({ Message: z.string().nullish() }).nullish(),
  InnerException: z.looseObject({ Message: z.string().nullish() }).nullish(),
});

/**
 * Find the `ResponseStatus` in any of the shapes K3 wraps it in: `{"Result":{"ResponseStatus":…}}`,
 * `{"ResponseStatus":…}` (BillQuery on some versions), `[[{"Result":…}]]` (ExecuteBillQuery errors) and
 * `[{"Result":…}]`. Returns `undefined` when there is none.
 */
export function findResponseStatus(json: unknown): K3ResponseStatus | undefined {
  let candidate: unknown = json;
  // Unwrap at most two array levels (the `[[{…}]]` error form of ExecuteBillQuery).
  for (let depth = 0; depth < 2 && Array.isArray(candidate); depth++) candidate = candidate[0];
  if (!isRecord(candidate)) return undefined;
  const holder = isRecord(candidate.Result) ? candidate.Result : candidate;
  if (holder.ResponseStatus == null) return undefined;
  const parsed = responseStatusSchema.safeParse(holder.ResponseStatus);
  return parsed.success ? parsed.data : undefined;
}

/** A plain JSON object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

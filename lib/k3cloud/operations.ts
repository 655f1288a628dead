/**
 * Typed inputs and outputs of the K3Cloud operations, the `data` objects they become on the wire
 * (spec §4), and the parsers that turn answers into results — all pure, so they are unit-tested without a
 * server. The client (`client.ts`) adds transport, authentication and retries.
 */
import { callLabel, K3CloudError, type K3MessageRow, type K3SuccessEntity } from './errors.ts';
import {
  type CallContext,
  DEFAULT_RETRY_AFTER,
  failureFromStatus,
  outcomeUnknownError,
  type RetryAfterPolicy,
  unexpectedResponseError,
} from './responses.ts';
import {
  billQueryRowsSchema,
  dataCenterListSchema,
  envelopeSchema,
  findResponseStatus,
  isRecord,
  type K3DataCenter,
  type K3FormOperation,
  type K3QueryRow,
  type K3ResponseStatus,
  queryRowsSchema,
} from './wire.ts';

/** A form data package (`Model`): field keys → values, references as `{"FNumber":…}`, entries as arrays. */
export type K3Model = Record<string, unknown>;

/** An internal id as K3 returns it (we normalise to string) or as a caller may pass it. */
export type K3Id = string | number;

// ---------------------------------------------------------------------------------------------------------
// Inputs

/**
 * Save/Draft/BatchSave options (spec §4.1). Unset options are not sent, so K3's own default applies —
 * except `isDeleteEntry`, which we always send (see {@link DEFAULT_IS_DELETE_ENTRY}).
 */
export interface K3SaveOptions {
  /** `NeedUpDateFields`: fields to update; list the entry key too when updating entry fields. */
  needUpdateFields?: readonly string[];
  /** `NeedReturnFields`: fields to echo back in `needReturnData`; entry fields as `entityKey.fieldKey`. */
  needReturnFields?: readonly string[];
  /** `IsDeleteEntry`: delete existing entry rows missing from the Model. Our default: **false**. */
  isDeleteEntry?: boolean;
  /** `IsVerifyBaseDataField` (K3 default false): check every base-data reference exists and is enabled. */
  isVerifyBaseDataField?: boolean;
  /** `IsAutoSubmitAndAudit` (K3 default false): save + submit + audit in one transaction; not for updates. */
  isAutoSubmitAndAudit?: boolean;
  /** `InterationFlags`, e.g. `['STK_InvCheckResult']` to allow negative stock; joined with `;`. */
  interationFlags?: string | readonly string[];
  /** `IgnoreInterationFlag` (K3 default true). */
  ignoreInterationFlag?: boolean;
  /** `ValidateFlag` (K3 default true): run required-field and operation validations. */
  validateFlag?: boolean;
  /** `NumberSearch` (K3 default true): resolve `{"FNumber":…}` references by number. */
  numberSearch?: boolean;
  /** `IsEntryBatchFill` (K3 default true). */
  isEntryBatchFill?: boolean;
  /** `IsControlPrecision` (K3 default false): check precision of amounts, prices and quantities. */
  isControlPrecision?: boolean;
  /** `ValidateRepeatJson` (K3 default false): reject a package identical to one already received. */
  validateRepeatJson?: boolean;
  /** `IsAutoAdjustField` (K3 default false): let K3 reorder the Model's fields. */
  isAutoAdjustField?: boolean;
  /** `SubSystemId`. */
  subSystemId?: string;
  /** `Creator`: internal id of the creating user. */
  creator?: string;
}

/**
 * Our default for `IsDeleteEntry` is **false**, unlike K3's `true`: with K3's default, an update that sends
 * only some entry rows (say, the one line that changed) silently deletes every row it did not send — data
 * loss nobody asked for. A caller that really sends the complete set of rows and wants the others removed
 * (e.g. mirroring a CRM order whose line was deleted) says so with `isDeleteEntry: true`. On creates the
 * flag makes no difference.
 */
export const DEFAULT_IS_DELETE_ENTRY = false;

export interface K3SaveInput extends K3SaveOptions {
  formId: string;
  /** PK 0 (or absent) creates; an existing internal id (`FID`, `FCUSTID`, …) updates (spec §5). */
  model: K3Model;
}

export interface K3BatchSaveInput extends K3SaveOptions {
  formId: string;
  models: readonly K3Model[];
  /** `BatchCount`: server-side threads; only effective when there are more packages than threads. */
  batchCount?: number;
}

/** Bills addressed by numbers (`Numbers`, an array) and/or internal ids (`Ids`, sent comma-separated). */
export interface K3BillTarget {
  formId: string;
  numbers?: readonly string[];
  ids?: readonly K3Id[];
  /** `CreateOrgId` (internal id of the creating org; 0 = not specified). */
  createOrgId?: number;
  /** `NetworkCtrl`: take the network-control (edit) lock during the operation. */
  networkCtrl?: boolean;
}

export interface K3SubmitInput extends K3BillTarget {
  /** `SelectedPostId` (Submit only). */
  selectedPostId?: number;
}

export interface K3AuditInput extends K3BillTarget {
  interationFlags?: string | readonly string[];
  ignoreInterationFlag?: boolean;
  /** `IsVerifyProcInst`: check the workflow instance. */
  isVerifyProcInst?: boolean;
}

export type K3UnAuditInput = K3AuditInput;
export type K3DeleteInput = K3BillTarget;

export interface K3ExecuteOperationInput extends K3BillTarget {
  /** e.g. `Forbid`, `Enable`, `Cancel`, `BillClose`, `Terminate` (spec §4.8). */
  opNumber: string;
  /** `PkEntryIds`: entry-level operations. */
  pkEntryIds?: ReadonlyArray<{ id: K3Id; entryIds: readonly K3Id[] }>;
}

export interface K3ViewInput {
  formId: string;
  /** The bill/base-data number; give this or `id`. */
  number?: string;
  id?: K3Id;
  createOrgId?: number;
  /** `IsSortBySeq`: sort entry rows by their sequence. */
  isSortBySeq?: boolean;
}

/** A FilterString condition object (newer servers, spec §4.5). */
export interface K3FilterCondition {
  Left?: string;
  FieldName: string;
  Compare: string;
  Value: string;
  Right?: string;
  Logic?: 'AND' | 'OR' | string;
}

export interface K3QueryInput {
  formId: string;
  /** Field keys; entry ids as `FEntity_FEntryID`, references as `FCustId.FNumber`. */
  fieldKeys: readonly string[] | string;
  /** SQL-like WHERE on field keys, or the JSON condition array of newer servers. */
  filterString?: string | readonly K3FilterCondition[];
  orderString?: string;
  topRowCount?: number;
  /** 0-based row offset. */
  startRow?: number;
  /** Rows per call; default {@link DEFAULT_QUERY_LIMIT}. */
  limit?: number;
  subSystemId?: string;
}

/**
 * 2000 rows per call: the documented maximum before patch 23.11 ("不能超过2000"); newer servers allow
 * 10 000 by default (`WebAPIMaxQueryLimit`, spec §4.5). Raise it per call when you know your server.
 */
export const DEFAULT_QUERY_LIMIT = 2_000;

export interface K3PushInput {
  /** Source form, e.g. `SAL_SaleOrder`. */
  formId: string;
  numbers?: readonly string[];
  ids?: readonly K3Id[];
  /** Entry-level push: source entry ids (then numbers/ids are not needed). */
  entryIds?: readonly K3Id[];
  /** Conversion rule, e.g. `SaleOrder-DeliveryNotice`; required unless `isEnableDefaultRule`. */
  ruleId?: string;
  /** Target form, required with `isEnableDefaultRule`. */
  targetFormId?: string;
  targetBillTypeId?: string;
  /** Internal id of the target org (0 = rule default). */
  targetOrgId?: number;
  isEnableDefaultRule?: boolean;
  /** Save a target that fails validation as a draft (drafts have no number). */
  isDraftWhenSaveFail?: boolean;
  /** Passed to conversion plug-ins. */
  customParams?: Record<string, unknown>;
}

export interface K3AllocateInput {
  /** Base-data form, e.g. `BD_Customer`. */
  formId: string;
  /** Internal ids of the base data to allocate (`PkIds`). */
  pkIds: readonly K3Id[];
  /** Internal ids of the target organisations (`TOrgIds`). */
  targetOrgIds: readonly K3Id[];
  isAutoSubmitAndAudit?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Results

export interface K3SaveResult {
  /** Internal id of the saved bill/base data (as a string, e.g. `"140670"`). */
  id: string;
  /** Its number; `null` for drafts, which have none. */
  number: string | null;
  /** `NeedReturnData` as K3 sent it (the fields requested with `needReturnFields`). */
  needReturnData: unknown;
  successMessages: K3MessageRow[];
}

export type K3BatchSaveItem =
  | { index: number; ok: true; id: string; number: string | null }
  | { index: number; ok: false; error: K3CloudError };

export interface K3BatchSaveResult {
  /** One entry per input model, in input order (`index` = position in `models`). */
  items: K3BatchSaveItem[];
  succeeded: number;
  failed: number;
  needReturnData: unknown;
}

export interface K3OperationResult {
  successEntities: K3SuccessEntity[];
  successMessages: K3MessageRow[];
}

export interface K3PushResult {
  /** The target bills created by the conversion (from `ResponseStatus.SuccessEntitys`). */
  targets: K3SuccessEntity[];
  /** Saving the target bills (`ResponseStatus`). */
  responseStatus: K3ResponseStatus;
  /** The conversion itself (`ConvertResponseStatus`); `null` if the server sent none. */
  convertResponseStatus: K3ResponseStatus | null;
}

export type { K3DataCenter, K3QueryRow };

// ---------------------------------------------------------------------------------------------------------
// Input validation

function invalid(ctx: CallContext, zh: string, en: string): K3CloudError {
  return new K3CloudError(`${zh} / ${en} ${callLabel(ctx.operation, ctx.formId)}`, {
    kind: 'invalid-input',
    fault: 'caller',
    code: 'K3_INVALID_INPUT',
    operation: ctx.operation,
    formId: ctx.formId,
  });
}

/** @throws {K3CloudError} invalid-input when formId is empty. */
export function requireFormId(operation: K3FormOperation, formId: unknown): CallContext {
  const ctx: CallContext = { operation, formId: typeof formId === 'string' ? formId : undefined };
  if (typeof formId !== 'string' || formId.trim() === '') {
    throw invalid(ctx, 'formId 不能为空', 'formId is required');
  }
  return { operation, formId: formId.trim() };
}

function requireModel(ctx: CallContext, model: unknown, what: string): K3Model {
  if (!isRecord(model)) throw invalid(ctx, `${what} 必须是对象`, `${what} must be an object`);
  return model;
}

function requireStringList(ctx: CallContext, value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.length === 0)) {
    throw invalid(ctx, `${name} 必须是非空字符串数组`, `${name} must be an array of non-empty strings`);
  }
  return [...value];
}

function requireIdList(ctx: CallContext, value: unknown, name: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    value.some(
      (item) =>
        !(
          (typeof item === 'string' && /^\s*[^,\s][^,]*$/.test(item)) ||
          (typeof item === 'number' && Number.isFinite(item))
        ),
    )
  ) {
    throw invalid(ctx, `${name} 必须是 id 数组（不含逗号）`, `${name} must be an array of ids (no commas)`);
  }
  return value.map((item) => String(item).trim());
}

function requireNonNegativeInt(ctx: CallContext, value: unknown, name: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(ctx, `${name} 必须是 ≥${min} 的整数`, `${name} must be an integer ≥ ${min}`);
  }
  return value;
}

function joinFlags(flags: string | readonly string[] | undefined): string | undefined {
  if (flags === undefined) return undefined;
  return typeof flags === 'string' ? flags : flags.join(';');
}

/** Drop `undefined` values so that unset options are not sent at all. */
function defined(entries: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));
}

// ---------------------------------------------------------------------------------------------------------
// `data` builders

function saveFlags(ctx: CallContext, options: K3SaveOptions): Record<string, unknown> {
  return defined({
    Creator: options.creator,
    NeedUpDateFields: requireStringList(ctx, options.needUpdateFields, 'needUpdateFields'),
    NeedReturnFields: requireStringList(ctx, options.needReturnFields, 'needReturnFields'),
    IsDeleteEntry: options.isDeleteEntry ?? DEFAULT_IS_DELETE_ENTRY,
    SubSystemId: options.subSystemId,
    IsVerifyBaseDataField: options.isVerifyBaseDataField,
    IsEntryBatchFill: options.isEntryBatchFill,
    ValidateFlag: options.validateFlag,
    NumberSearch: options.numberSearch,
    IsAutoAdjustField: options.isAutoAdjustField,
    InterationFlags: joinFlags(options.interationFlags),
    IgnoreInterationFlag: options.ignoreInterationFlag,
    IsControlPrecision: options.isControlPrecision,
    ValidateRepeatJson: options.validateRepeatJson,
    IsAutoSubmitAndAudit: options.isAutoSubmitAndAudit,
  });
}

/**
 * `data` of Save/Draft.
 * @throws {K3CloudError} invalid-input for a missing formId or a Model that is not an object.
 */
export function saveData(
  operation: 'Save' | 'Draft',
  input: K3SaveInput,
): { ctx: CallContext; data: object } {
  const ctx = requireFormId(operation, input.formId);
  const model = requireModel(ctx, input.model, 'model');
  return { ctx, data: { ...saveFlags(ctx, input), Model: model } };
}

/**
 * `data` of BatchSave.
 * @throws {K3CloudError} invalid-input for an empty batch or a package that is not an object.
 */
export function batchSaveData(input: K3BatchSaveInput): { ctx: CallContext; data: object } {
  const ctx = requireFormId('BatchSave', input.formId);
  if (!Array.isArray(input.models) || input.models.length === 0) {
    throw invalid(ctx, 'models 必须是非空数组', 'models must be a non-empty array');
  }
  const models = input.models.map((model, index) => requireModel(ctx, model, `models[${index}]`));
  const batchCount = requireNonNegativeInt(ctx, input.batchCount, 'batchCount', 1);
  return { ctx, data: { ...saveFlags(ctx, input), ...defined({ BatchCount: batchCount }), Model: models } };
}

function targetData(ctx: CallContext, input: K3BillTarget): Record<string, unknown> {
  const numbers = requireStringList(ctx, input.numbers, 'numbers') ?? [];
  const ids = requireIdList(ctx, input.ids, 'ids') ?? [];
  if (numbers.length === 0 && ids.length === 0) {
    throw invalid(ctx, '必须提供 numbers 或 ids', 'numbers or ids are required');
  }
  // `Numbers` is an array while `Ids` is a comma-separated string (spec §4.3, §7.1).
  return {
    CreateOrgId: requireNonNegativeInt(ctx, input.createOrgId, 'createOrgId') ?? 0,
    Numbers: numbers,
    Ids: ids.join(','),
    ...defined({ NetworkCtrl: input.networkCtrl }),
  };
}

/** `data` of Submit. @throws {K3CloudError} invalid-input without numbers or ids. */
export function submitData(input: K3SubmitInput): { ctx: CallContext; data: object } {
  const ctx = requireFormId('Submit', input.formId);
  return {
    ctx,
    data: {
      ...targetData(ctx, input),
      ...defined({ SelectedPostId: requireNonNegativeInt(ctx, input.selectedPostId, 'selectedPostId') }),
    },
  };
}

/** `data` of Audit/UnAudit. @throws {K3CloudError} invalid-input without numbers or ids. */
export function auditData(
  operation: 'Audit' | 'UnAudit',
  input: K3AuditInput,
): { ctx: CallContext; data: object } {
  const ctx = requireFormId(operation, input.formId);
  return {
    ctx,
    data: {
      ...targetData(ctx, input),
      ...defined({
        InterationFlags: joinFlags(input.interationFlags),
        IgnoreInterationFlag: input.ignoreInterationFlag,
        IsVerifyProcInst: input.isVerifyProcInst,
      }),
    },
  };
}

/** `data` of Delete. @throws {K3CloudError} invalid-input without numbers or ids. */
export function deleteData(input: K3DeleteInput): { ctx: CallContext; data: object } {
  const ctx = requireFormId('Delete', input.formId);
  return { ctx, data: targetData(ctx, input) };
}

/** `opNumber` and `data` of ExcuteOperation. @throws {K3CloudError} invalid-input. */
export function executeOperationData(input: K3ExecuteOperationInput): {
  ctx: CallContext;
  opNumber: string;
  data: object;
} {
  const ctx = requireFormId('ExcuteOperation', input.formId);
  if (typeof input.opNumber !== 'string' || input.opNumber.trim() === '') {
    throw invalid(ctx, 'opNumber 不能为空', 'opNumber is required');
  }
  const pkEntryIds = input.pkEntryIds?.map((row) => ({
    Id: String(row.id),
    EntryIds: (requireIdList(ctx, row.entryIds, 'pkEntryIds.entryIds') ?? []).join(','),
  }));
  const target =
    pkEntryIds && pkEntryIds.length > 0 && !input.numbers?.length && !input.ids?.length
      ? { CreateOrgId: input.createOrgId ?? 0, Numbers: [], Ids: '' }
      : targetData(ctx, input);
  return {
    ctx,
    opNumber: input.opNumber.trim(),
    data: { ...target, ...defined({ PkEntryIds: pkEntryIds, NetworkCtrl: input.networkCtrl }) },
  };
}

/** `data` of View. @throws {K3CloudError} invalid-input unless exactly one of number/id is given. */
export function viewData(input: K3ViewInput): { ctx: CallContext; data: object } {
  const ctx = requireFormId('View', input.formId);
  const hasNumber = typeof input.number === 'string' && input.number.trim() !== '';
  const hasId = input.id !== undefined && String(input.id).trim() !== '';
  if (hasNumber === hasId) {
    throw invalid(ctx, 'View 需要且只需要 number 或 id 之一', 'View needs exactly one of number or id');
  }
  // View takes the singular `Number`/`Id` (spec §4.4); the template sends both, the unused one empty.
  return {
    ctx,
    data: {
      CreateOrgId: requireNonNegativeInt(ctx, input.createOrgId, 'createOrgId') ?? 0,
      Number: hasNumber ? input.number?.trim() : '',
      Id: hasId ? String(input.id).trim() : '',
      ...defined({ IsSortBySeq: input.isSortBySeq }),
    },
  };
}

/** The field keys of a query as an array (trimmed, empty entries dropped). */
export function fieldKeyList(fieldKeys: readonly string[] | string): string[] {
  const list = typeof fieldKeys === 'string' ? fieldKeys.split(',') : [...fieldKeys];
  return list.map((key) => key.trim()).filter((key) => key.length > 0);
}

/** `data` of ExecuteBillQuery/BillQuery. @throws {K3CloudError} invalid-input. */
export function queryData(
  operation: 'ExecuteBillQuery' | 'BillQuery',
  input: K3QueryInput,
): { ctx: CallContext; data: object; limit: number } {
  const ctx = requireFormId(operation, input.formId);
  const keys =
    typeof input.fieldKeys === 'string' || Array.isArray(input.fieldKeys)
      ? fieldKeyList(input.fieldKeys)
      : [];
  if (keys.length === 0) throw invalid(ctx, 'fieldKeys 不能为空', 'fieldKeys is required');
  const limit = requireNonNegativeInt(ctx, input.limit, 'limit', 1) ?? DEFAULT_QUERY_LIMIT;
  return {
    ctx,
    limit,
    data: {
      FormId: ctx.formId,
      FieldKeys: keys.join(','),
      FilterString: input.filterString ?? '',
      OrderString: input.orderString ?? '',
      TopRowCount: requireNonNegativeInt(ctx, input.topRowCount, 'topRowCount') ?? 0,
      StartRow: requireNonNegativeInt(ctx, input.startRow, 'startRow') ?? 0,
      Limit: limit,
      SubSystemId: input.subSystemId ?? '',
    },
  };
}

/** `data` of Push. @throws {K3CloudError} invalid-input (nothing to push, no rule). */
export function pushData(input: K3PushInput): { ctx: CallContext; data: object } {
  const ctx = requireFormId('Push', input.formId);
  const numbers = requireStringList(ctx, input.numbers, 'numbers') ?? [];
  const ids = requireIdList(ctx, input.ids, 'ids') ?? [];
  const entryIds = requireIdList(ctx, input.entryIds, 'entryIds') ?? [];
  if (numbers.length === 0 && ids.length === 0 && entryIds.length === 0) {
    throw invalid(ctx, '必须提供 numbers、ids 或 entryIds', 'numbers, ids or entryIds are required');
  }
  if (input.isEnableDefaultRule) {
    if (!input.targetFormId) {
      throw invalid(
        ctx,
        '使用默认规则时必须提供 targetFormId',
        'targetFormId is required with isEnableDefaultRule',
      );
    }
  } else if (!input.ruleId) {
    throw invalid(
      ctx,
      '必须提供 ruleId（或 isEnableDefaultRule + targetFormId）',
      'ruleId is required (or isEnableDefaultRule with targetFormId)',
    );
  }
  return {
    ctx,
    data: {
      Ids: ids.join(','),
      Numbers: numbers,
      EntryIds: entryIds.join(','),
      RuleId: input.ruleId ?? '',
      TargetBillTypeId: input.targetBillTypeId ?? '',
      TargetOrgId: requireNonNegativeInt(ctx, input.targetOrgId, 'targetOrgId') ?? 0,
      TargetFormId: input.targetFormId ?? '',
      IsEnableDefaultRule: input.isEnableDefaultRule ?? false,
      IsDraftWhenSaveFail: input.isDraftWhenSaveFail ?? false,
      CustomParams: input.customParams ?? {},
    },
  };
}

/** `data` of Allocate. @throws {K3CloudError} invalid-input for empty id lists. */
export function allocateData(input: K3AllocateInput): { ctx: CallContext; data: object } {
  const ctx = requireFormId('Allocate', input.formId);
  const pkIds = requireIdList(ctx, input.pkIds, 'pkIds') ?? [];
  const orgIds = requireIdList(ctx, input.targetOrgIds, 'targetOrgIds') ?? [];
  if (pkIds.length === 0 || orgIds.length === 0) {
    throw invalid(ctx, 'pkIds 和 targetOrgIds 不能为空', 'pkIds and targetOrgIds are required');
  }
  return {
    ctx,
    data: {
      PkIds: pkIds.join(','),
      TOrgIds: orgIds.join(','),
      IsAutoSubmitAndAudit: input.isAutoSubmitAndAudit ?? false,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Result parsers. Each throws the classified K3CloudError on failure.

function envelopeOf(ctx: CallContext, json: unknown) {
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) throw unexpectedResponseError(ctx, json, parsed.error);
  return parsed.data.Result;
}

/** The status of a plain envelope answer; throws if it failed or is missing. */
function successfulStatus(
  ctx: CallContext,
  json: unknown,
  retryAfter: RetryAfterPolicy,
): {
  status: K3ResponseStatus;
  result: ReturnType<typeof envelopeOf>;
} {
  const result = envelopeOf(ctx, json);
  const status = result.ResponseStatus;
  if (!status) throw unexpectedResponseError(ctx, json);
  if (!status.isSuccess) throw failureFromStatus(ctx, status, retryAfter);
  return { status, result };
}

/** Save/Draft answer → id and number. @throws {K3CloudError} */
export function parseSaveResult(
  ctx: CallContext,
  json: unknown,
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
): K3SaveResult {
  const { status, result } = successfulStatus(ctx, json, retryAfter);
  const entity = status.successEntities[0];
  const id = result.Id && result.Id !== '0' ? result.Id : entity?.id;
  if (!id) throw unexpectedResponseError(ctx, json);
  return {
    id,
    number: result.Number || entity?.number || null,
    needReturnData: result.NeedReturnData,
    successMessages: status.successMessages,
  };
}

/**
 * BatchSave answer → one result per input, matched by `DIndex` (the index into the Model array): an input
 * with its own error rows failed with those rows; one with a success entity was saved; one the server said
 * nothing about gets an outcome-unknown error (look it up before re-sending). Failures that are not about
 * rows (session, throttling, …) throw for the whole call.
 *
 * @throws {K3CloudError} for failures of the whole call.
 */
export function parseBatchSaveResult(
  ctx: CallContext,
  json: unknown,
  inputCount: number,
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
): K3BatchSaveResult {
  const result = envelopeOf(ctx, json);
  const status = result.ResponseStatus;
  if (!status) throw unexpectedResponseError(ctx, json);
  const inRange = (dIndex: number | null): dIndex is number =>
    dIndex !== null && dIndex >= 0 && dIndex < inputCount;
  const successes = new Map<number, K3SuccessEntity>();
  status.successEntities.forEach((entity, position) => {
    // A server that omits DIndex on success rows lists them in input order.
    const index = inRange(entity.dIndex)
      ? entity.dIndex
      : inputCount === status.successEntities.length
        ? position
        : -1;
    if (index >= 0) successes.set(index, entity);
  });
  if (!status.isSuccess) {
    const whole = failureFromStatus(ctx, status, retryAfter);
    if (whole.kind !== 'business' && whole.kind !== 'not-found') throw whole;
    if (successes.size === 0 && status.errors.every((row) => !inRange(row.dIndex))) throw whole;
  }
  const batchTexts = status.errors.filter((row) => !inRange(row.dIndex)).map((row) => row.message);
  const items: K3BatchSaveItem[] = [];
  for (let index = 0; index < inputCount; index++) {
    const success = successes.get(index);
    const ownRows = status.errors.filter((row) => row.dIndex === index);
    if (ownRows.length > 0) {
      const error = failureFromStatus(ctx, { ...status, isSuccess: false, errors: ownRows }, retryAfter, {
        successEntities: [],
      });
      items.push({ index, ok: false, error });
    } else if (success?.id) {
      items.push({ index, ok: true, id: success.id, number: success.number });
    } else {
      // Neither saved nor refused by name: a server may commit part of a batch (spec §4.2), so claiming
      // "not saved" could make the caller create a duplicate. The caller must look it up.
      const error = outcomeUnknownError(
        ctx,
        {
          zh: `金蝶未返回第 ${index} 个数据包的结果`,
          en: `K3Cloud reported nothing about package ${index}`,
        },
        { remoteMessages: batchTexts },
      );
      items.push({ index, ok: false, error });
    }
  }
  const succeeded = items.filter((item) => item.ok).length;
  return { items, succeeded, failed: items.length - succeeded, needReturnData: result.NeedReturnData };
}

/** Submit/Audit/UnAudit/Delete/ExcuteOperation/Allocate answer. @throws {K3CloudError} */
export function parseOperationResult(
  ctx: CallContext,
  json: unknown,
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
): K3OperationResult {
  const { status } = successfulStatus(ctx, json, retryAfter);
  return { successEntities: status.successEntities, successMessages: status.successMessages };
}

/**
 * View answer → the bill (`Result.Result`). A successful View comes with `"ResponseStatus":null` on real
 * servers (spec §10). An empty object `{}` is what View answers when the session is missing (spec §2.7),
 * so it is classified as session loss.
 *
 * @throws {K3CloudError} session-expired for `{}`, not-found when there is no bill.
 */
export function parseViewResult(
  ctx: CallContext,
  json: unknown,
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
): Record<string, unknown> {
  if (isRecord(json) && Object.keys(json).length === 0) {
    throw failureFromStatus(
      ctx,
      {
        isSuccess: false,
        msgCode: 1,
        errorCode: undefined,
        errors: [
          {
            fieldName: null,
            message: 'View 返回空对象（会话缺失）/ View answered {} (no session)',
            dIndex: null,
          },
        ],
        successEntities: [],
        successMessages: [],
      },
      retryAfter,
    );
  }
  const result = envelopeOf(ctx, json);
  if (result.ResponseStatus && !result.ResponseStatus.isSuccess) {
    throw failureFromStatus(ctx, result.ResponseStatus, retryAfter);
  }
  if (!isRecord(result.Result)) {
    throw new K3CloudError(
      `金蝶未找到该单据或资料 / K3Cloud has no such bill or base data ${callLabel(ctx.operation, ctx.formId)}`,
      {
        kind: 'not-found',
        fault: 'caller',
        code: 'K3_NOT_FOUND',
        operation: ctx.operation,
        formId: ctx.formId,
      },
    );
  }
  return result.Result;
}

/**
 * ExecuteBillQuery answer → rows. Errors arrive inside the array shape as `[[{"Result":…}]]` (spec §4.5);
 * they are detected before the rows are accepted, so an error never passes for a data row.
 *
 * @throws {K3CloudError}
 */
export function parseQueryRows(
  ctx: CallContext,
  json: unknown,
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
): K3QueryRow[] {
  const status = findResponseStatus(json);
  if (status) {
    if (!status.isSuccess) throw failureFromStatus(ctx, status, retryAfter);
    throw unexpectedResponseError(ctx, json);
  }
  const rows = queryRowsSchema.safeParse(json);
  if (!rows.success) throw unexpectedResponseError(ctx, json, rows.error);
  return rows.data;
}

/** BillQuery answer → objects keyed by the field keys. @throws {K3CloudError} */
export function parseBillQueryRows(
  ctx: CallContext,
  json: unknown,
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
): Record<string, unknown>[] {
  const status = findResponseStatus(json);
  if (status) {
    if (!status.isSuccess) throw failureFromStatus(ctx, status, retryAfter);
    throw unexpectedResponseError(ctx, json);
  }
  const rows = billQueryRowsSchema.safeParse(json);
  if (!rows.success) throw unexpectedResponseError(ctx, json, rows.error);
  return rows.data;
}

/**
 * Push answer → targets and both statuses. The conversion (`ConvertResponseStatus`) and the saving of the
 * targets (`ResponseStatus`) can fail separately (spec §4.7); a failure of either throws, with the rows of
 * both in `errors`, conversion rows first.
 *
 * @throws {K3CloudError}
 */
export function parsePushResult(
  ctx: CallContext,
  json: unknown,
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
): K3PushResult {
  const result = envelopeOf(ctx, json);
  const save = result.ResponseStatus;
  const convert = result.ConvertResponseStatus ?? null;
  const convertFailed = convert !== null && !convert.isSuccess;
  if (convertFailed || (save && !save.isSuccess)) {
    const failing = convertFailed && convert ? convert : save;
    if (failing) {
      throw failureFromStatus(
        ctx,
        { ...failing, errors: [...(convert?.errors ?? []), ...(save?.errors ?? [])] },
        retryAfter,
        { successEntities: save?.successEntities ?? [] },
      );
    }
  }
  if (!save) throw unexpectedResponseError(ctx, json);
  return { targets: save.successEntities, responseStatus: save, convertResponseStatus: convert };
}

/** GetDataCenterList answer. @throws {K3CloudError} */
export function parseDataCenterList(
  ctx: CallContext,
  json: unknown,
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
): K3DataCenter[] {
  const status = findResponseStatus(json);
  if (status && !status.isSuccess) throw failureFromStatus(ctx, status, retryAfter);
  const list = dataCenterListSchema.safeParse(json);
  if (!list.success) throw unexpectedResponseError(ctx, json, list.error);
  return list.data;
}

/** Turn ExecuteBillQuery rows into objects keyed by the field keys, like BillQuery does server-side. */
export function rowsToObjects(
  fieldKeys: readonly string[] | string,
  rows: readonly K3QueryRow[],
): Record<string, unknown>[] {
  const keys = fieldKeyList(fieldKeys);
  return rows.map((row) => Object.fromEntries(keys.map((key, index) => [key, row[index] ?? null])));
}

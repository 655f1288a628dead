/**
 * Every message text the emulator answers with, in one place.
 *
 * Texts marked REAL are verbatim from captures or community sources cited in `shared/docs/k3cloud-webapi.md`.
 * Texts marked ASSUMPTION follow K3's phrasing pattern (`单据编号为“X”的<表单>，<原因>`, spec §3.3) because no
 * public source shows the real wording; clients must not match on them. Texts about requests the emulator
 * cannot understand at all are ours and bilingual (Chinese / English).
 */

/** REAL (spec §6): duplicate number. */
export function duplicateNumber(ruleName: string, number: string): string {
  return `违反字段唯一性要求：${ruleName}。[${number}]在当前系统中已经被使用。`;
}

/** REAL pattern (SKILL common-errors: `字段[客户]是必录字段`); the row prefix for entry fields is an ASSUMPTION. */
export function requiredField(label: string, row?: { entity: string; row: number }): string {
  return row ? `${row.entity}第${row.row}行：字段[${label}]是必录字段` : `字段[${label}]是必录字段`;
}

/** REAL (spec §4.5, §6): unknown field key, MsgCode 9. */
export function unknownField(key: string): string {
  return `元数据中标识为${key}的字段不存在`;
}

/** REAL (SKILL common-errors, spec §4.5): unknown FormId. */
export const UNKNOWN_FORM = '业务对象不存在';

/** REAL (SKILL common-errors): saving an audited bill. */
export const AUDITED_NO_EDIT = '单据已审核，不允许修改';

/** ASSUMPTION: saving a bill that is being audited (B). */
export const SUBMITTED_NO_EDIT = '单据审核中，不允许修改';

/**
 * REAL (public test stub quoting a real answer, GitHub file #68950018119):
 * `您要读取的数据在系统中不存在,可能已经被删除！[ID=127383,Type=BillHead,TableName=t_ER_ExpenseReimb]`.
 */
export function recordNotFound(id: number | string, tableName: string): string {
  return `您要读取的数据在系统中不存在,可能已经被删除！[ID=${id},Type=BillHead,TableName=${tableName}]`;
}

/** ASSUMPTION: View / Submit / … by a number that does not exist. */
export function numberNotFound(numberLabel: string, number: string, formName: string): string {
  return `${numberLabel}为“${number}”的${formName}不存在或已被删除！`;
}

/** K3's pattern for per-bill operation results (REAL: `单据编号为“AR00004867”的应收单，审核成功！`). */
export function billMessage(numberLabel: string, number: string, formName: string, text: string): string {
  return `${numberLabel}为“${number}”的${formName}，${text}`;
}

export const TEXT = {
  /** REAL (spec §3.3 Audit failure capture). */
  alreadyAudited: '单据已经审核！',
  /** REAL pattern (`…审核成功！`); the other verbs follow it (ASSUMPTION). */
  auditOk: '审核成功！',
  submitOk: '提交成功！',
  unAuditOk: '反审核成功！',
  deleteOk: '删除成功！',
  /** ASSUMPTIONS below. */
  alreadySubmitted: '单据已提交，不能重复提交！',
  draftCannotSubmit: '暂存的单据不能提交，请先保存！',
  notSubmittedCannotAudit: '单据不是审核中状态，不能审核！',
  notAuditedCannotUnAudit: '单据不是已审核状态，不能反审核！',
  submittedCannotDelete: '单据审核中，不允许删除！',
  auditedCannotDelete: '单据已审核，不允许删除！',
  hasDownstreamNoUnAudit: '单据已下推生成下游单据，不允许反审核！',
  hasDownstreamNoDelete: '单据已下推生成下游单据，不允许删除！',
  notAuditedCannotPush: '单据未审核，不能下推！',
  /** ASSUMPTION: "…已全部下推…" (the issue asks for this gist; exact real wording unknown). */
  fullyPushed: '源单分录已全部下推，没有可下推的数据！',
  cancelledCannotPush: '单据已作废，不能下推！',
} as const;

/** ASSUMPTION: a base-data reference that resolves to nothing (FieldName = the field key). */
export function referenceNotFound(
  label: string,
  value: string,
  row?: { entity: string; row: number },
): string {
  const prefix = row ? `${row.entity}第${row.row}行：` : '';
  return `${prefix}字段“${label}”的值“${value}”在系统中不存在！`;
}

/** ASSUMPTION: with IsVerifyBaseDataField, a reference to unaudited or forbidden base data. */
export function referenceInvalid(
  label: string,
  value: string,
  row?: { entity: string; row: number },
): string {
  const prefix = row ? `${row.entity}第${row.row}行：` : '';
  return `${prefix}字段“${label}”的值“${value}”未审核或已禁用！`;
}

/** ASSUMPTION: an entry with fewer rows than the bill needs. */
export function entryRowsRequired(entity: string): string {
  return `单据体“${entity}”至少需要录入一行数据`;
}

/** ASSUMPTION: Allocate to an organisation that already uses the record. */
export function alreadyAllocated(number: string, formName: string, orgName: string): string {
  return `编码为“${number}”的${formName}已分配到组织“${orgName}”，不能重复分配！`;
}

/** ASSUMPTION, shape of REAL edit-lock texts (spec §6): MsgCode 13 fault. */
export function networkLock(user: string, formName: string, operation: string): string {
  return `"${user}"使用业务单据："${formName}"业务操作-"[${formName}-${operation}]"冲突，请稍候再使用。`;
}

/** ASSUMPTION: MsgCode 14 fault (调用限制). */
export const CALL_LIMIT = '接口调用过于频繁，已超出调用限制，请稍后再试。';

/** Ours (bilingual): requests the emulator cannot interpret. */
export const OURS = {
  unparsableBody: (detail: string) =>
    `请求数据格式错误，无法解析：${detail} / malformed request body: ${detail}`,
  bodyTooLarge: (limit: number) => `请求数据包超过 ${limit} 字节上限 / request body exceeds ${limit} bytes`,
  unknownService: (name: string) => `服务方法不存在：${name} / unknown service method: ${name}`,
  missingParameter: (name: string) => `缺少参数 ${name} / missing parameter ${name}`,
  badParameter: (name: string, detail: string) =>
    `参数 ${name} 不正确：${detail} / bad parameter ${name}: ${detail}`,
  wrongType: (label: string, key: string, expected: string, got: string) =>
    `字段[${label}]的值格式不正确，应为${expected}：${got} / field ${key} expects ${expected}, got ${got}`,
  unknownPushRule: (ruleId: string) => `转换规则不存在：${ruleId} / unknown conversion rule ${ruleId}`,
  unknownOperation: (op: string, formName: string) =>
    `${formName}不支持操作：${op} / operation ${op} is not available on this form`,
  filterSyntax: (detail: string) => `过滤条件语法错误：${detail} / FilterString syntax error: ${detail}`,
  filterArrayUnsupported:
    'FilterString 的 JSON 数组格式模拟器暂不支持，请使用 SQL 条件字符串 / the emulator does not support JSON-array FilterString; use the SQL-like string',
  autoAuditOnUpdate:
    'IsAutoSubmitAndAudit 更新时不能为true / IsAutoSubmitAndAudit must not be true when updating an existing record',
  repeatedPackage: '数据包重复提交（ValidateRepeatJson） / duplicate package rejected (ValidateRepeatJson)',
  entryNotFound: (entity: string, id: number) =>
    `单据体“${entity}”中不存在内码为 ${id} 的分录 / entry row ${id} does not exist in ${entity}`,
  tooManyEntries: '查询字段只能来自一个单据体 / query fields may come from one entry only',
  baseOnly: (formName: string) =>
    `${formName}不是基础资料，不能分配 / only organisation-controlled base data can be allocated`,
  orgNotFound: (id: string) => `组织内码不存在：${id} / organisation id ${id} does not exist`,
} as const;

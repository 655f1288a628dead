/**
 * Flow 1, `account-to-customer`: a CRM account (AccountObj) becomes a K3 customer (BD_Customer).
 *
 * The flow itself writes, in this order: `FCUSTID` (0 = create), `FCreateOrgId` and `FUseOrgId` (create
 * only: a customer never changes organisation), the external key field, `FTRADINGCURRID` (erp.currencyNumber)
 * and `FTaxRate` (erp.taxRateNumber). Everything else comes from `flows.accountToCustomer.fields`; a
 * `fields` entry for FTRADINGCURRID or FTaxRate replaces the default.
 *
 * Around the mapping the pipeline (1) checks {@link crmRecordEligibility}, (2) finds the ERP customer by
 * link or by {@link buildCustomerLookup}, (3) compares {@link CustomerMapping.contentHash} with the last
 * synced hash, (4) saves, submits/audits and allocates ({@link buildCustomerAllocate}), and (5) writes the
 * number back ({@link buildCustomerWriteBack}).
 */
import type { CrmRecord } from '../fxiaoke/records.ts';
import type { SyncConfig } from './config.ts';
import { requireFlow } from './config.ts';
import { buildWriteBack, type CrmObjectData, crmRecordRef, readExternalKey } from './crm-record.ts';
import { MappingError, type MappingNote, ProblemList } from './errors.ts';
import { applyCrmRules, type RuleContext } from './field-rules.ts';
import { contentHash } from './hash.ts';
import {
  buildBillQuery,
  cellId,
  cellText,
  type K3BillQuery,
  type K3Model,
  type K3SaveData,
  k3All,
  k3Equals,
  parseBillQueryRows,
} from './k3-requests.ts';
import { buildSaveData, subHeadersOf } from './save-payload.ts';

export const CUSTOMER_FORM_ID = 'BD_Customer';
const FLOW_PATH = 'flows.accountToCustomer';

/** The ERP customer the pipeline found (by link or by external-key lookup). */
export interface ExistingCustomer {
  /** FCUSTID. */
  id: number;
  number: string | undefined;
  /** FDocumentStatus: A 创建, B 审核中, C 已审核, D 重新审核, Z 暂存. */
  documentStatus: string | undefined;
  /** FForbidStatus: A 启用, B 禁用. */
  forbidStatus: string | undefined;
}

export interface CustomerMapping {
  formId: typeof CUSTOMER_FORM_ID;
  mode: 'create' | 'update';
  /** `data` of Save. */
  save: K3SaveData;
  /** Hash of the mapped content without ids: equal to the last synced hash → nothing to send. */
  contentHash: string;
  externalKey: { erpField: string; value: string };
  /** Submit and audit after a create (flow setting). */
  submitAndAudit: boolean;
  notes: MappingNote[];
}

/**
 * Map a CRM account to a BD_Customer Save body.
 *
 * @param options.existing the ERP customer to update; absent = create.
 * @throws {MappingError} kind `business` when the account lacks required data (naming each field), kind
 *   `config` when a value has no dictionary entry.
 * @throws {ConfigError} when the flow is not configured or disabled.
 */
export function mapAccountToCustomer(
  account: CrmRecord,
  config: SyncConfig,
  options: { existing?: Pick<ExistingCustomer, 'id'> | undefined } = {},
): CustomerMapping {
  const flow = requireFlow(config, 'accountToCustomer');
  const record = crmRecordRef(account, 'AccountObj');
  const problems = new ProblemList();
  const notes: MappingNote[] = [];
  const ctx: RuleContext = {
    config,
    flowPath: FLOW_PATH,
    flowDictionaries: flow.dictionaries,
    problems,
    notes,
  };

  const orgNumber = flow.orgNumber ?? config.erp.orgNumber;
  const content: K3Model = {
    FCreateOrgId: { FNumber: orgNumber },
    FUseOrgId: { FNumber: orgNumber },
  };
  const keyValue = readExternalKey(account, flow.externalKey, FLOW_PATH, problems);
  content[flow.externalKey.erpField] = keyValue;
  content.FTRADINGCURRID = { FNumber: config.erp.currencyNumber };
  content.FTaxRate = { FNumber: config.erp.taxRateNumber };

  const applied = applyCrmRules(flow.fields, account, content, ctx);
  problems.throwIfAny(record);

  const createOnly = new Set(['FCreateOrgId', 'FUseOrgId', ...applied.createOnly]);
  const shaped = buildSaveData(
    content,
    { pkKey: 'FCUSTID', subHeaders: new Set(subHeadersOf(applied.written)), entries: {}, createOnly },
    options.existing?.id,
    applied.emptyText,
  );
  return {
    formId: CUSTOMER_FORM_ID,
    mode: shaped.mode,
    save: shaped.save,
    contentHash: contentHash({ formId: CUSTOMER_FORM_ID, content }),
    externalKey: { erpField: flow.externalKey.erpField, value: keyValue },
    submitAndAudit: flow.submitAndAudit,
    notes,
  };
}

/**
 * The ExecuteBillQuery that finds the ERP customer of a CRM account by its external key, in the flow's
 * organisation (after allocation K3 keeps one copy per use organisation, all with the same key).
 *
 * @throws {MappingError} kind `business` when the account has no external key value.
 */
export function buildCustomerLookup(account: CrmRecord, config: SyncConfig): K3BillQuery {
  const flow = requireFlow(config, 'accountToCustomer');
  const problems = new ProblemList();
  const value = readExternalKey(account, flow.externalKey, FLOW_PATH, problems);
  problems.throwIfAny(crmRecordRef(account, 'AccountObj'));
  const orgNumber = flow.orgNumber ?? config.erp.orgNumber;
  return buildBillQuery(
    CUSTOMER_FORM_ID,
    ['FCUSTID', 'FNumber', 'FDocumentStatus', 'FForbidStatus', flow.externalKey.erpField],
    k3All(k3Equals(flow.externalKey.erpField, value), k3Equals('FUseOrgId.FNumber', orgNumber)),
    { limit: 10 },
  );
}

/**
 * The customer found by {@link buildCustomerLookup}, or undefined.
 *
 * @throws {MappingError} kind `business` (code DUPLICATE_EXTERNAL_KEY) when several ERP customers carry
 *   the key: creating or updating either would be a guess, so a person must merge them first.
 * @throws {K3RowsError} when the rows are malformed.
 */
export function parseCustomerLookup(
  query: K3BillQuery,
  rows: unknown,
  account: CrmRecord,
): ExistingCustomer | undefined {
  const found = new Map<number, ExistingCustomer>();
  for (const row of parseBillQueryRows(query, rows)) {
    const id = cellId(row, 'FCUSTID', query.FormId);
    found.set(id, {
      id,
      number: cellText(row, 'FNumber'),
      documentStatus: cellText(row, 'FDocumentStatus'),
      forbidStatus: cellText(row, 'FForbidStatus'),
    });
  }
  if (found.size > 1) {
    const numbers = [...found.values()].map((c) => c.number ?? String(c.id)).join(', ');
    throw new MappingError(crmRecordRef(account, 'AccountObj'), [
      {
        kind: 'business',
        code: 'DUPLICATE_EXTERNAL_KEY',
        zh: `金蝶中有多个客户使用同一外部键（${numbers}），请先在金蝶中合并或清理`,
        en: `several K3 customers carry the same external key (${numbers}); merge or clean them up in K3 first`,
      },
    ]);
  }
  return found.values().next().value;
}

/** `data` of Allocate (spec §4.9): internal ids, which the pipeline resolves with `buildOrgIdQuery`. */
export interface K3AllocateData {
  PkIds: string;
  TOrgIds: string;
  IsAutoSubmitAndAudit: boolean;
}

/**
 * The Allocate body for a new customer, or undefined when the flow allocates nowhere.
 *
 * @param orgIds internal ids of `allocate.orgNumbers`, resolved by the pipeline.
 */
export function buildCustomerAllocate(
  customerId: number,
  orgIds: readonly number[],
  config: SyncConfig,
): K3AllocateData | undefined {
  const allocate = requireFlow(config, 'accountToCustomer').allocate;
  if (!allocate || orgIds.length === 0) return undefined;
  return { PkIds: String(customerId), TOrgIds: orgIds.join(','), IsAutoSubmitAndAudit: allocate.autoAudit };
}

/** The CRM update writing the ERP customer number back, or undefined (not configured / already there). */
export function buildCustomerWriteBack(
  account: CrmRecord,
  erpNumber: string,
  config: SyncConfig,
): CrmObjectData | undefined {
  const flow = requireFlow(config, 'accountToCustomer');
  return buildWriteBack(account, 'AccountObj', flow.writeBack?.crmField, erpNumber);
}

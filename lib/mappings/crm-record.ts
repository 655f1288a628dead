/**
 * What every CRM → K3 flow needs to know about the CRM record itself: whether it should be synced at all,
 * how messages name it, its external key value, and the write-back of the ERP number.
 */
import type { CrmRecord } from '../fxiaoke/records.ts';
import { readCrmString } from '../fxiaoke/records.ts';
import type { ExternalKey, SyncConfig } from './config.ts';
import type { ProblemList, RecordRef } from './errors.ts';

export type Eligibility =
  | { eligible: true }
  | { eligible: false; reason: 'deleted' | 'life-status'; zh: string; en: string };

/**
 * Whether a CRM record should be synced now: not deleted, and in one of `crm.syncLifeStatuses` (default
 * `normal`: a record under approval, invalidated or being changed waits for its next version). A record
 * without `life_status` is treated as `normal` (objects without approval flows may omit it).
 */
export function crmRecordEligibility(record: CrmRecord, config: SyncConfig): Eligibility {
  if (record.is_deleted === true) {
    return { eligible: false, reason: 'deleted', zh: '记录已删除', en: 'the record is deleted' };
  }
  const status = record.life_status ?? 'normal';
  if (!config.crm.syncLifeStatuses.includes(status)) {
    return {
      eligible: false,
      reason: 'life-status',
      zh: `生命状态为 ${status}，不在 crm.syncLifeStatuses（${config.crm.syncLifeStatuses.join(', ')}）中`,
      en: `life_status is ${status}, not one of crm.syncLifeStatuses (${config.crm.syncLifeStatuses.join(', ')})`,
    };
  }
  return { eligible: true };
}

/** How messages name a CRM record. */
export function crmRecordRef(record: CrmRecord, fallbackApiName: string): RecordRef {
  return {
    apiName: record.object_describe_api_name ?? fallbackApiName,
    id: record._id,
    name: record.name ?? undefined,
  };
}

/**
 * The external key value of a CRM record (`_id`, or e.g. `account_no`), trimmed. A missing value is a
 * business problem (without a key the pipeline cannot look the record up before creating it) and reads as
 * '' — the caller ends the mapping with `problems.throwIfAny` before using it.
 */
export function readExternalKey(
  record: CrmRecord,
  key: ExternalKey,
  flowPath: string,
  problems: ProblemList,
): string {
  const value = key.crmField === '_id' ? record._id : readCrmString(record, key.crmField)?.trim();
  if (value === undefined || value === '') {
    problems.add({
      kind: 'business',
      code: 'REQUIRED_FIELD_MISSING',
      field: key.crmField,
      zh: `外部键字段 ${key.crmField} 为空（${flowPath}.externalKey，对应金蝶 ${key.erpField}）`,
      en: `external key field ${key.crmField} is empty (${flowPath}.externalKey, K3 ${key.erpField})`,
    });
    return '';
  }
  return value;
}

/** `object_data` of a Fxiaoke update (spec §4.4): the apiName, the id and the changed fields only. */
export type CrmObjectData = Record<string, unknown> & { dataObjectApiName: string; _id?: string };

/**
 * The CRM update that writes an ERP number back (`field_erp_no__c = CUST0004`), or undefined when no
 * write-back is configured or the record already holds that value (no pointless write, no new version).
 */
export function buildWriteBack(
  record: CrmRecord,
  apiName: string,
  crmField: string | undefined,
  erpNumber: string,
): CrmObjectData | undefined {
  if (crmField === undefined) return undefined;
  if (readCrmString(record, crmField) === erpNumber) return undefined;
  return { dataObjectApiName: apiName, _id: record._id, [crmField]: erpNumber };
}

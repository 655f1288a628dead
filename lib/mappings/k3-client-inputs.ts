/**
 * The mapping results speak K3Cloud's wire shapes (`Model`, `NeedUpDateFields`, `FieldKeys`, `RuleId`…), so a
 * dry run shows exactly what K3 receives; the K3Cloud client takes typed inputs. These adapters connect the
 * two without the pipeline re-spelling any field.
 */
import type { K3AllocateInput, K3PushInput, K3QueryInput, K3SaveInput } from '../k3cloud/operations.ts';
import type { K3AllocateData } from './account-to-customer.ts';
import type { K3BillQuery, K3PushData, K3SaveData } from './k3-requests.ts';

/** `client.save(toSaveInput('BD_Customer', mapping.save))`. */
export function toSaveInput(formId: string, save: K3SaveData): K3SaveInput {
  return {
    formId,
    model: save.Model,
    ...(save.NeedUpDateFields === undefined ? {} : { needUpdateFields: save.NeedUpDateFields }),
    ...(save.NeedReturnFields === undefined ? {} : { needReturnFields: save.NeedReturnFields }),
    ...(save.IsDeleteEntry === undefined ? {} : { isDeleteEntry: save.IsDeleteEntry }),
  };
}

/** `client.executeBillQuery(toQueryInput(query))` — one page; the mappings page by keyset themselves. */
export function toQueryInput(query: K3BillQuery): K3QueryInput {
  return {
    formId: query.FormId,
    fieldKeys: query.FieldKeys,
    filterString: query.FilterString,
    orderString: query.OrderString,
    topRowCount: query.TopRowCount,
    startRow: query.StartRow,
    limit: query.Limit,
  };
}

/** `client.push(toPushInput('SAL_SaleOrder', push))`. */
export function toPushInput(sourceFormId: string, push: K3PushData): K3PushInput {
  return {
    formId: sourceFormId,
    numbers: push.Numbers,
    ruleId: push.RuleId,
    targetFormId: push.TargetFormId,
    targetBillTypeId: push.TargetBillTypeId,
    targetOrgId: push.TargetOrgId,
    isEnableDefaultRule: push.IsEnableDefaultRule,
    isDraftWhenSaveFail: push.IsDraftWhenSaveFail,
    customParams: push.CustomParams,
  };
}

/** `client.allocate(toAllocateInput('BD_Customer', allocate))`. */
export function toAllocateInput(formId: string, allocate: K3AllocateData): K3AllocateInput {
  return {
    formId,
    pkIds: allocate.PkIds.split(','),
    targetOrgIds: allocate.TOrgIds.split(','),
    isAutoSubmitAndAudit: allocate.IsAutoSubmitAndAudit,
  };
}

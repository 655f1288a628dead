/**
 * Flow 3, `sale-order-to-delivery-notice`: when a synced CRM order reaches the configured state (a status
 * value, or a boolean custom field such as `field_ship_request__c`), K3 pushes (下推) the ERP sales order to
 * a delivery notice with the configured conversion rule.
 *
 * The trigger is a level, not an edge: it stays true while the CRM field holds the value. The pipeline
 * pushes once per order (its link table remembers the push) and treats K3's "already fully pushed" answer
 * as done, so a redelivered event never creates a second notice.
 */
import type { CrmRecord } from '../fxiaoke/records.ts';
import { readCrmRaw } from '../fxiaoke/records.ts';
import type { SyncConfig } from './config.ts';
import { requireFlow } from './config.ts';
import { buildPushData, type K3PushData } from './k3-requests.ts';

/** Text form of a CRM value for comparison: `true`, `6`, `shipped` (arrays: each element). */
function comparable(value: unknown): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(comparable);
  if (typeof value === 'string') return [value.trim()];
  if (typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  return [];
}

/**
 * Whether the CRM order requests a delivery notice: `trigger.crmField` equals `trigger.equals` or is one of
 * `trigger.in` (compared as text, so `true`, `"true"`, `6` and `"6"` behave alike; a select_many field
 * matches when any of its values does).
 *
 * @throws {ConfigError} when the flow is not configured or disabled.
 */
export function isDeliveryNoticeRequested(order: CrmRecord, config: SyncConfig): boolean {
  const { trigger } = requireFlow(config, 'saleOrderToDeliveryNotice');
  const wanted = new Set(comparable(trigger.in ?? [trigger.equals]));
  return comparable(readCrmRaw(order, trigger.crmField)).some((value) => wanted.has(value));
}

/**
 * The Push body SAL_SaleOrder → delivery notice for one synced order.
 *
 * @param resolved.targetOrgId internal id of `targetOrgNumber` (resolved by the pipeline); default 0 =
 *   the rule's default organisation.
 * @throws {ConfigError} when the flow is not configured or disabled.
 */
export function buildDeliveryNoticePush(
  saleOrderBillNo: string,
  config: SyncConfig,
  resolved: { targetOrgId?: number } = {},
): K3PushData {
  const flow = requireFlow(config, 'saleOrderToDeliveryNotice');
  return buildPushData({
    numbers: [saleOrderBillNo],
    ruleId: flow.ruleId,
    targetFormId: flow.targetFormId,
    targetBillTypeId: flow.targetBillTypeId,
    targetOrgId: resolved.targetOrgId ?? 0,
    draftWhenSaveFails: flow.draftWhenSaveFails,
  });
}

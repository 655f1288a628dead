/**
 * Flow 4, `purchase-order-to-in-stock`: audited K3 purchase orders are pushed (下推) to inbound stock bills
 * (PUR_PurchaseOrder → STK_InStock, rule `PUR_PurchaseOrder-STK_InStock`), on a schedule and on request.
 *
 * Which orders: audited (FDocumentStatus C), of the configured purchase organisations and bill types,
 * optionally of some suppliers and matching `extraFilter`, modified since the scheduler's cursor (minus an
 * overlap window), scanned in `FModifyDate, FID` order with a keyset. "Not yet pushed" is decided by the
 * pipeline's link table plus K3 itself: pushing an order whose quantity is fully pushed fails with K3's
 * "已全部下推" message, which the pipeline records as done, never as a failure to retry.
 */
import type { SyncConfig } from './config.ts';
import { requireFlow } from './config.ts';
import {
  buildBillQuery,
  buildPushData,
  cellId,
  cellText,
  type K3BillQuery,
  type K3Cursor,
  type K3PushData,
  k3All,
  k3Equals,
  k3In,
  k3ModifiedAfter,
  k3ModifiedSince,
  k3NotIn,
  MODIFY_DATE_ORDER,
  parseBillQueryRows,
} from './k3-requests.ts';

export const PURCHASE_ORDER_FORM_ID = 'PUR_PurchaseOrder';

export interface PurchaseOrderQueryOptions {
  /** On request: exactly these orders (still only audited ones of the configured scope). */
  billNos?: readonly string[];
  /** Scheduled run: the stored cursor's FModifyDate; the overlap window is subtracted. */
  modifiedSince?: string;
  /** Next page of the same run: after the last order of the previous page. */
  after?: K3Cursor;
  /** Orders the link table knows as pushed, left out of the result. */
  excludeBillNos?: readonly string[];
}

/**
 * The ExecuteBillQuery listing purchase orders to push.
 *
 * @throws {ConfigError} when the flow is not configured or disabled.
 * @throws {InvalidInputError} when a cursor date is not a K3 datetime.
 */
export function buildPurchaseOrderQuery(
  config: SyncConfig,
  options: PurchaseOrderQueryOptions = {},
): K3BillQuery {
  const flow = requireFlow(config, 'purchaseOrderToInStock');
  const filter = k3All(
    k3Equals('FDocumentStatus', 'C'),
    k3In('FPurchaseOrgId.FNumber', flow.purchaseOrgNumbers ?? [config.erp.orgNumber]),
    k3In('FBillTypeID.FNumber', flow.billTypeNumbers ?? [config.erp.billTypes.purchaseOrder]),
    flow.supplierNumbers === undefined ? undefined : k3In('FSupplierId.FNumber', flow.supplierNumbers),
    flow.extraFilter,
    options.billNos === undefined || options.billNos.length === 0
      ? undefined
      : k3In('FBillNo', options.billNos),
    k3NotIn('FBillNo', options.excludeBillNos ?? []),
    options.modifiedSince === undefined ? undefined : k3ModifiedSince(options.modifiedSince, flow.overlapMs),
    options.after === undefined ? undefined : k3ModifiedAfter(options.after),
  );
  return buildBillQuery(
    PURCHASE_ORDER_FORM_ID,
    ['FID', 'FBillNo', 'FDocumentStatus', 'FModifyDate'],
    filter,
    {
      orderBy: MODIFY_DATE_ORDER,
      limit: flow.pageSize,
    },
  );
}

export interface PurchaseOrderCandidate {
  fid: number;
  billNo: string;
  modifyDate: string | undefined;
}

export interface PurchaseOrderPage {
  /** Orders in scan order, each once (K3 may repeat header rows per entry). */
  orders: PurchaseOrderCandidate[];
  /** Where the scan stands after this page (store it once the page is processed). */
  cursor: K3Cursor | undefined;
  /** The page was full: fetch the next one with `after: cursor`. */
  more: boolean;
}

/**
 * Read the rows of {@link buildPurchaseOrderQuery}.
 *
 * @throws {K3RowsError} when the rows are malformed.
 */
export function parsePurchaseOrderRows(query: K3BillQuery, rows: unknown): PurchaseOrderPage {
  const parsed = parseBillQueryRows(query, rows);
  const orders = new Map<number, PurchaseOrderCandidate>();
  for (const row of parsed) {
    const fid = cellId(row, 'FID', query.FormId);
    const billNo = cellText(row, 'FBillNo');
    if (billNo !== undefined && !orders.has(fid)) {
      orders.set(fid, { fid, billNo, modifyDate: cellText(row, 'FModifyDate') });
    }
  }
  const list = [...orders.values()];
  const last = list.at(-1);
  return {
    orders: list,
    cursor: last?.modifyDate === undefined ? undefined : { modifyDate: last.modifyDate, fid: last.fid },
    more: parsed.length >= query.Limit,
  };
}

/**
 * The Push body PUR_PurchaseOrder → STK_InStock for one order (one order per Push keeps the link between
 * an order and its in-stock bill one-to-one in the sync log).
 *
 * @param resolved.targetOrgId internal id of `targetOrgNumber`; default 0 = the rule's default.
 * @throws {ConfigError} when the flow is not configured or disabled.
 */
export function buildInStockPush(
  purchaseOrderBillNo: string,
  config: SyncConfig,
  resolved: { targetOrgId?: number } = {},
): K3PushData {
  const flow = requireFlow(config, 'purchaseOrderToInStock');
  return buildPushData({
    numbers: [purchaseOrderBillNo],
    ruleId: flow.ruleId,
    targetFormId: flow.targetFormId,
    targetBillTypeId: flow.targetBillTypeId,
    targetOrgId: resolved.targetOrgId ?? 0,
    draftWhenSaveFails: flow.draftWhenSaveFails,
  });
}

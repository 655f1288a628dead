/**
 * Flow 5, `delivery-to-fxiaoke` (scheduled): ERP delivery bills (SAL_OUTSTOCK and/or SAL_DELIVERYNOTICE)
 * changed since the cursor become CRM delivery notes (DeliveryNoteObj + DeliveryNoteProductObj), and each
 * affected CRM order gets its delivery status (unshipped / partial / shipped).
 *
 * Primary course for the pipeline, per source form:
 * 1. {@link buildDeliveryQuery} with `{since: cursor.modifyDate}` (or none on the first run → `startFrom`),
 *    ExecuteBillQuery, then {@link readDeliveryPage}: complete bills, the cursor after them, and the next
 *    page (`{after: cursor}`) when the page was full. Rows are entry lines; a bill cut by the page end is
 *    held back and re-read whole on the next page.
 * 2. For each bill and each sales order number on it ({@link deliveryOrderNumbers}): find the CRM order
 *    synced to that number (link table / `field_erp_bill_no__c`), the CRM product of each material, and an
 *    existing note by {@link DeliveryNoteMapping.lookupFilters}; then {@link mapDeliveryBillToNote} → create
 *    or update unless the content hash is unchanged. Lines of orders unknown to the CRM are skipped.
 * 3. For each affected order: {@link buildOrderedQuantitiesQuery} + {@link buildDeliveredQuantitiesQuery},
 *    {@link deriveDeliveryStatus}, {@link buildOrderStatusUpdate}.
 * 4. Store the cursor of step 1.
 */

import { ConfigError } from '../errors.ts';
import type { Filter } from '../fxiaoke/query.ts';
import type { CrmRecord } from '../fxiaoke/records.ts';
import { readCrmString } from '../fxiaoke/records.ts';
import type { DeliverySourceForm, DeliveryToFxiaokeFlow, SyncConfig } from './config.ts';
import { requireFlow } from './config.ts';
import type { CrmObjectData } from './crm-record.ts';
import { matchRows } from './entry-matching.ts';
import { type MappingNote, ProblemList, type RecordRef } from './errors.ts';
import { applyErpRules, erpRuleKeys, type RuleContext } from './field-rules.ts';
import { contentHash } from './hash.ts';
import {
  buildBillQuery,
  cellId,
  cellNumber,
  cellText,
  type K3BillQuery,
  type K3Cursor,
  type K3Row,
  K3RowsError,
  k3All,
  k3Equals,
  k3In,
  k3ModifiedAfter,
  k3ModifiedSince,
  MODIFY_DATE_ORDER,
  parseBillQueryRows,
  parseK3NaiveMs,
} from './k3-requests.ts';

const FLOW_PATH = 'flows.deliveryToFxiaoke';

/** Where each source form keeps what the flow reads (keys per spec §5 / the emulator's form metadata). */
interface DeliveryFormSpec {
  entryIdKey: string;
  materialKey: string;
  unitKey: string;
  quantityKey: string;
  /** The sales order number on each line. */
  orderNoKey: string;
  customerKey: string;
}

const DELIVERY_FORMS: Readonly<Record<DeliverySourceForm, DeliveryFormSpec>> = {
  SAL_OUTSTOCK: {
    entryIdKey: 'FEntity_FEntryID',
    materialKey: 'FMaterialID.FNumber',
    unitKey: 'FUnitID.FNumber',
    quantityKey: 'FRealQty',
    // K3's own spelling of 销售订单号 on out-stock lines.
    orderNoKey: 'FSoorDerno',
    customerKey: 'FCustomerID.FNumber',
  },
  SAL_DELIVERYNOTICE: {
    entryIdKey: 'FEntity_FEntryID',
    materialKey: 'FMaterialID.FNumber',
    unitKey: 'FUnitID.FNumber',
    quantityKey: 'FQty',
    orderNoKey: 'FOrderNo',
    customerKey: 'FCustomerID.FNumber',
  },
};

/** Which page of a scan to read. */
export type DeliveryPage =
  /** First page: bills modified since the stored cursor date (overlap subtracted); none → `startFrom`. */
  | { since?: string | undefined }
  /** Following pages of the same run. */
  | { after: K3Cursor };

function formSpec(formId: DeliverySourceForm): DeliveryFormSpec {
  return DELIVERY_FORMS[formId];
}

/**
 * The ExecuteBillQuery for one page of changed delivery bills of `formId` (one row per entry line), ordered
 * `FModifyDate ASC, FID ASC`.
 *
 * @throws {ConfigError} when the flow is not configured, disabled, or does not poll `formId`.
 * @throws {InvalidInputError} when a cursor date is not a K3 datetime.
 */
export function buildDeliveryQuery(
  config: SyncConfig,
  formId: DeliverySourceForm,
  page: DeliveryPage,
): K3BillQuery {
  const flow = requireFlow(config, 'deliveryToFxiaoke');
  if (!flow.sourceForms.includes(formId)) {
    throw new ConfigError([
      `${FLOW_PATH}.sourceForms: ${formId} 未配置 / ${formId} is not a configured source form`,
    ]);
  }
  const spec = formSpec(formId);
  const keys = [
    'FID',
    'FBillNo',
    'FDate',
    'FDocumentStatus',
    'FModifyDate',
    spec.customerKey,
    'FSaleOrgId.FNumber',
    spec.entryIdKey,
    spec.materialKey,
    spec.unitKey,
    spec.quantityKey,
    spec.orderNoKey,
    ...erpRuleKeys(flow.note.fields),
    ...erpRuleKeys(flow.noteLine.fields),
  ];
  let window: string | undefined;
  if ('after' in page) window = k3ModifiedAfter(page.after);
  else if (page.since !== undefined) window = k3ModifiedSince(page.since, flow.overlapMs);
  else if (flow.startFrom !== undefined) window = k3ModifiedSince(flow.startFrom, 0);
  const filter = k3All(
    window,
    flow.saleOrgNumbers === undefined ? undefined : k3In('FSaleOrgId.FNumber', flow.saleOrgNumbers),
  );
  return buildBillQuery(formId, keys, filter, { orderBy: MODIFY_DATE_ORDER, limit: flow.pageSize });
}

export interface DeliveryLine {
  entryId: number;
  materialNumber: string | undefined;
  unitNumber: string | undefined;
  quantity: number;
  /** The sales order number this line delivers (undefined for bills made without an order). */
  orderBillNo: string | undefined;
  /** The whole row, for `noteLine.fields`. */
  row: K3Row;
}

export interface DeliveryBill {
  formId: DeliverySourceForm;
  fid: number;
  billNo: string;
  /** FDate as K3 returned it. */
  date: string | undefined;
  /** A 创建, B 审核中, C 已审核, D 重新审核. */
  documentStatus: string | undefined;
  modifyDate: string;
  customerNumber: string | undefined;
  saleOrgNumber: string | undefined;
  lines: DeliveryLine[];
  /** The bill's first row, for `note.fields` (header values repeat on every row). */
  headerRow: K3Row;
}

export interface DeliveryPageResult {
  /** Complete bills in scan order. */
  bills: DeliveryBill[];
  /** After the last complete bill: store it once these bills are processed (undefined: no bill). */
  cursor: K3Cursor | undefined;
  /** The next page of this run, when the page was full. */
  next: DeliveryPage | undefined;
}

/**
 * Group one page of rows into bills. When the page is full, the last bill may continue on the next page:
 * it is left out and re-read whole by the next page (keyset after the last complete bill).
 *
 * @throws {ConfigError} when a full page holds a single bill: that bill has at least `pageSize` lines, so
 *   the page size must grow (up to 10000) for the scan to make progress.
 * @throws {K3RowsError} when the rows are malformed.
 */
export function readDeliveryPage(config: SyncConfig, query: K3BillQuery, rows: unknown): DeliveryPageResult {
  const flow = requireFlow(config, 'deliveryToFxiaoke');
  const formId = query.FormId;
  if (!isSourceForm(formId)) throw new TypeError(`not a delivery query: ${formId}`);
  const spec = formSpec(formId);
  const parsed = parseBillQueryRows(query, rows);
  const bills: DeliveryBill[] = [];
  const byId = new Map<number, DeliveryBill>();
  for (const row of parsed) {
    const fid = cellId(row, 'FID', formId);
    let bill = byId.get(fid);
    if (!bill) {
      const billNo = cellText(row, 'FBillNo');
      const modifyDate = cellText(row, 'FModifyDate');
      if (billNo === undefined || modifyDate === undefined) {
        throw new K3RowsError(formId, `FID ${fid} has no FBillNo or FModifyDate`);
      }
      bill = {
        formId,
        fid,
        billNo,
        date: cellText(row, 'FDate'),
        documentStatus: cellText(row, 'FDocumentStatus'),
        modifyDate,
        customerNumber: cellText(row, spec.customerKey),
        saleOrgNumber: cellText(row, 'FSaleOrgId.FNumber'),
        lines: [],
        headerRow: row,
      };
      byId.set(fid, bill);
      bills.push(bill);
    }
    if (cellText(row, spec.entryIdKey) === undefined) continue;
    bill.lines.push({
      entryId: cellId(row, spec.entryIdKey, formId),
      materialNumber: cellText(row, spec.materialKey),
      unitNumber: cellText(row, spec.unitKey),
      quantity: cellNumber(row, spec.quantityKey, formId) ?? 0,
      orderBillNo: cellText(row, spec.orderNoKey)?.trim() || undefined,
      row,
    });
  }
  const full = parsed.length >= query.Limit;
  if (full) {
    const cut = bills.pop();
    if (bills.length === 0 && cut !== undefined) {
      throw new ConfigError([
        `${FLOW_PATH}.pageSize: ${formId} ${cut.billNo} 的明细行数不少于 pageSize（${flow.pageSize}），请调大 / bill ${cut.billNo} has at least pageSize (${flow.pageSize}) lines; raise pageSize (max 10000)`,
      ]);
    }
  }
  const last = bills.at(-1);
  const cursor = last === undefined ? undefined : { modifyDate: last.modifyDate, fid: last.fid };
  return { bills, cursor, next: full && cursor !== undefined ? { after: cursor } : undefined };
}

function isSourceForm(formId: string): formId is DeliverySourceForm {
  return Object.hasOwn(DELIVERY_FORMS, formId);
}

/** The distinct sales order numbers a bill delivers, in line order. */
export function deliveryOrderNumbers(bill: DeliveryBill): string[] {
  return [
    ...new Set(bill.lines.flatMap((line) => (line.orderBillNo === undefined ? [] : [line.orderBillNo]))),
  ];
}

/** What the pipeline resolved for one (bill, sales order) pair. */
export interface DeliveryNoteRefs {
  /** The CRM SalesOrderObj synced to the order number. */
  order: CrmRecord;
  /** Its SalesOrderProductObj rows: fills `orderLineField` when exactly one line has the product. */
  orderLines?: readonly CrmRecord[];
  /** ERP material number → CRM ProductObj `_id`. */
  productIds: ReadonlyMap<string, string>;
}

/** A CRM note found by {@link DeliveryNoteMapping.lookupFilters}, with its detail rows. */
export interface ExistingDeliveryNote {
  id: string;
  lines: readonly CrmRecord[];
}

export interface DeliveryNoteMapping {
  action: 'upsert';
  mode: 'create' | 'update';
  orderBillNo: string;
  /** `object_data` of create/update (`_id` on updates). */
  objectData: CrmObjectData;
  /** `details` of create/update: new rows without `_id`, kept rows with it. */
  details: Record<string, Record<string, unknown>[]>;
  /** Existing detail rows no ERP line claims any more. */
  removedLineIds: string[];
  /** Query filters (for the Fxiaoke client) that find an existing note of this (bill, order). */
  lookupFilters: Filter[];
  contentHash: string;
  notes: MappingNote[];
}

export interface DeliveryNoteSkip {
  action: 'skip';
  reason: 'not-audited' | 'no-lines';
  zh: string;
  en: string;
}

/** Fxiaoke date fields hold 00:00 China Standard Time (spec §5.1). */
const CHINA_OFFSET_MS = 8 * 3_600_000;

function crmDate(k3Date: string | undefined): number | undefined {
  const naive = k3Date === undefined ? undefined : parseK3NaiveMs(k3Date);
  if (naive === undefined) return undefined;
  const day = new Date(naive);
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()) - CHINA_OFFSET_MS;
}

/** Decimal text as Fxiaoke stores number fields: `10`, `2.5`. */
function crmNumber(value: number): string {
  return String(Object.is(value, -0) ? 0 : value);
}

function noteLookupFilters(flow: DeliveryToFxiaokeFlow, billNo: string, orderId: string): Filter[] {
  return [
    { field: flow.note.externalKeyField, operator: 'EQ', values: [billNo] },
    { field: flow.note.orderField, operator: 'EQ', values: [orderId] },
  ];
}

/**
 * Map the lines of one ERP delivery bill that belong to one sales order to a CRM delivery note.
 *
 * A bill covering several orders becomes one note per order (a note has one `sales_order_id`); the
 * external key is then the pair (bill number, order). Bills not audited are skipped when `onlyAudited`.
 *
 * @throws {MappingError} kind `business` when a material has no CRM product (naming the bill and the
 *   material), kind `config` when a value has no dictionary entry.
 * @throws {ConfigError} when the flow is not configured or disabled.
 */
export function mapDeliveryBillToNote(
  bill: DeliveryBill,
  orderBillNo: string,
  config: SyncConfig,
  refs: DeliveryNoteRefs,
  options: { existing?: ExistingDeliveryNote | undefined } = {},
): DeliveryNoteMapping | DeliveryNoteSkip {
  const flow = requireFlow(config, 'deliveryToFxiaoke');
  if (flow.onlyAudited && bill.documentStatus !== 'C') {
    return {
      action: 'skip',
      reason: 'not-audited',
      zh: `${bill.billNo} 未审核（状态 ${bill.documentStatus ?? '?'}），暂不同步`,
      en: `${bill.billNo} is not audited (status ${bill.documentStatus ?? '?'}); not synced yet`,
    };
  }
  const lines = bill.lines.filter((line) => line.orderBillNo === orderBillNo);
  if (lines.length === 0) {
    return {
      action: 'skip',
      reason: 'no-lines',
      zh: `${bill.billNo} 没有销售订单 ${orderBillNo} 的明细`,
      en: `${bill.billNo} has no lines of sales order ${orderBillNo}`,
    };
  }
  const record: RecordRef = { apiName: bill.formId, id: String(bill.fid), name: bill.billNo };
  const problems = new ProblemList();
  const notes: MappingNote[] = [];
  const ctx: RuleContext = {
    config,
    flowPath: FLOW_PATH,
    flowDictionaries: flow.dictionaries,
    problems,
    notes,
  };

  const data: Record<string, unknown> = { [flow.note.orderField]: refs.order._id };
  const accountId = readCrmString(refs.order, 'account_id');
  if (accountId !== undefined) data[flow.note.accountField] = accountId;
  data[flow.note.externalKeyField] = bill.billNo;
  if (flow.note.formIdField !== undefined) data[flow.note.formIdField] = bill.formId;
  const date = crmDate(bill.date);
  if (date !== undefined) data[flow.note.dateField] = date;
  applyErpRules(flow.note.fields, bill.headerRow, data, ctx);

  const rows: { lineId: string; product: string; row: Record<string, unknown> }[] = [];
  for (const line of lines) {
    const scope = {
      zh: `${bill.billNo} 第 ${line.entryId} 行（物料 ${line.materialNumber ?? '?'}）：`,
      en: `${bill.billNo} entry ${line.entryId} (material ${line.materialNumber ?? '?'}): `,
    };
    const productId =
      line.materialNumber === undefined ? undefined : refs.productIds.get(line.materialNumber);
    if (productId === undefined) {
      problems.add({
        kind: 'business',
        code: 'MATERIAL_WITHOUT_PRODUCT',
        field: 'FMaterialID',
        value: line.materialNumber,
        zh: `${scope.zh}物料 ${line.materialNumber ?? '(空)'} 在纷享销客中没有对应的产品`,
        en: `${scope.en}material ${line.materialNumber ?? '(empty)'} has no product in Fxiaoke CRM`,
      });
      continue;
    }
    const row: Record<string, unknown> = {
      [flow.noteLine.productField]: productId,
      [flow.noteLine.quantityField]: crmNumber(line.quantity),
    };
    const candidates = (refs.orderLines ?? []).filter(
      (orderLine) => readCrmString(orderLine, 'product_id') === productId && orderLine.is_deleted !== true,
    );
    const only = candidates.length === 1 ? candidates[0] : undefined;
    if (only !== undefined) row[flow.noteLine.orderLineField] = only._id;
    applyErpRules(flow.noteLine.fields, line.row, row, { ...ctx, scope });
    rows.push({ lineId: String(line.entryId), product: productId, row });
  }
  problems.throwIfAny(record);

  const detailApiName = flow.noteLine.detailApiName;
  const hash = contentHash({
    objectApiName: flow.note.objectApiName,
    data,
    details: rows.map((r) => r.row),
  });
  const base = {
    action: 'upsert' as const,
    orderBillNo,
    lookupFilters: noteLookupFilters(flow, bill.billNo, refs.order._id),
    contentHash: hash,
    notes,
  };
  const objectData: CrmObjectData = { dataObjectApiName: flow.note.objectApiName, ...data };
  const existing = options.existing;
  if (existing === undefined) {
    return {
      ...base,
      mode: 'create',
      objectData,
      details: { [detailApiName]: rows.map((r) => r.row) },
      removedLineIds: [],
    };
  }
  const match = matchRows(
    rows.map((r) => ({ lineId: r.lineId, key: undefined, item: r.product })),
    existing.lines.map((line) => ({
      id: line._id,
      key: undefined,
      item: readCrmString(line, flow.noteLine.productField),
    })),
    false,
  );
  return {
    ...base,
    mode: 'update',
    objectData: { ...objectData, _id: existing.id },
    details: {
      [detailApiName]: rows.map((r) => {
        const id = match.matched.get(r.lineId);
        return id === undefined ? r.row : { _id: id, ...r.row };
      }),
    },
    removedLineIds: match.removed,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Order delivery status

export type DeliveryStatus = 'unshipped' | 'partial' | 'shipped';

export interface QuantityLine {
  materialNumber: string;
  quantity: number;
}

const SALE_ORDER_QUANTITY_KEYS = { material: 'FMaterialId.FNumber', quantity: 'FQty' } as const;

/** Ordered quantities of an ERP sales order, one row per entry (SAL_SaleOrder FQty by material). */
export function buildOrderedQuantitiesQuery(orderBillNo: string): K3BillQuery {
  return buildBillQuery(
    'SAL_SaleOrder',
    [
      'FBillNo',
      'FSaleOrderEntry_FEntryID',
      SALE_ORDER_QUANTITY_KEYS.material,
      SALE_ORDER_QUANTITY_KEYS.quantity,
    ],
    k3Equals('FBillNo', orderBillNo),
    { limit: 2000 },
  );
}

/**
 * Every delivered line of an order in the form the status is based on (`orderStatus.basedOn`, default the
 * first source form) — all bills, not only the changed ones, so the status is right however many
 * deliveries there were. Only audited bills count when `onlyAudited`.
 *
 * @throws {ConfigError} when the flow is not configured, disabled, or has no `orderStatus`.
 */
export function buildDeliveredQuantitiesQuery(config: SyncConfig, orderBillNo: string): K3BillQuery {
  const flow = requireFlow(config, 'deliveryToFxiaoke');
  const formId = statusForm(flow);
  const spec = formSpec(formId);
  return buildBillQuery(
    formId,
    ['FID', spec.entryIdKey, spec.materialKey, spec.quantityKey],
    k3All(
      k3Equals(spec.orderNoKey, orderBillNo),
      flow.onlyAudited ? k3Equals('FDocumentStatus', 'C') : undefined,
    ),
    { limit: 10_000 },
  );
}

function statusForm(flow: DeliveryToFxiaokeFlow): DeliverySourceForm {
  if (flow.orderStatus === undefined) {
    throw new ConfigError([
      `${FLOW_PATH}.orderStatus: 未配置订单发货状态回写 / order status write-back is not configured`,
    ]);
  }
  return flow.orderStatus.basedOn ?? flow.sourceForms[0] ?? 'SAL_OUTSTOCK';
}

/**
 * Quantity lines from the rows of {@link buildOrderedQuantitiesQuery} or
 * {@link buildDeliveredQuantitiesQuery}; rows without a material are ignored.
 *
 * @throws {K3RowsError} when the rows are malformed.
 */
export function parseQuantityRows(query: K3BillQuery, rows: unknown): QuantityLine[] {
  const formId = query.FormId;
  const keys = isSourceForm(formId)
    ? { material: formSpec(formId).materialKey, quantity: formSpec(formId).quantityKey }
    : SALE_ORDER_QUANTITY_KEYS;
  return parseBillQueryRows(query, rows).flatMap((row) => {
    const materialNumber = cellText(row, keys.material);
    if (materialNumber === undefined) return [];
    return [{ materialNumber, quantity: cellNumber(row, keys.quantity, formId) ?? 0 }];
  });
}

/** Quantities are decimals; this much rounding noise still counts as "all delivered". */
const QUANTITY_EPSILON = 1e-9;

export interface DeliveryStatusResult {
  status: DeliveryStatus;
  byMaterial: { materialNumber: string; ordered: number; delivered: number }[];
}

/**
 * The order's delivery status from ordered vs delivered quantities per material:
 * nothing delivered → `unshipped`; every ordered material delivered in full (or more) → `shipped`;
 * otherwise `partial`. Delivered materials the order does not list are reported but do not make an order
 * shipped.
 */
export function deriveDeliveryStatus(
  ordered: readonly QuantityLine[],
  delivered: readonly QuantityLine[],
): DeliveryStatusResult {
  const totals = new Map<string, { ordered: number; delivered: number }>();
  const add = (line: QuantityLine, field: 'ordered' | 'delivered') => {
    const entry = totals.get(line.materialNumber) ?? { ordered: 0, delivered: 0 };
    entry[field] += line.quantity;
    totals.set(line.materialNumber, entry);
  };
  for (const line of ordered) add(line, 'ordered');
  for (const line of delivered) add(line, 'delivered');
  const byMaterial = [...totals].map(([materialNumber, t]) => ({ materialNumber, ...t }));
  const orderedLines = byMaterial.filter((m) => m.ordered > 0);
  const anyDelivered = byMaterial.some((m) => m.ordered > 0 && m.delivered > QUANTITY_EPSILON);
  let status: DeliveryStatus;
  if (!anyDelivered) status = 'unshipped';
  else if (orderedLines.every((m) => m.delivered + QUANTITY_EPSILON >= m.ordered)) status = 'shipped';
  else status = 'partial';
  return { status, byMaterial };
}

/**
 * The CRM order update writing the delivery status, or undefined when the order already shows it.
 *
 * @throws {ConfigError} when the flow is not configured, disabled, or has no `orderStatus`.
 */
export function buildOrderStatusUpdate(
  order: CrmRecord,
  status: DeliveryStatus,
  config: SyncConfig,
): CrmObjectData | undefined {
  const flow = requireFlow(config, 'deliveryToFxiaoke');
  statusForm(flow);
  const orderStatus = flow.orderStatus;
  if (orderStatus === undefined) return undefined;
  const value = orderStatus.values[status];
  if (readCrmString(order, orderStatus.crmField) === value) return undefined;
  return {
    dataObjectApiName: order.object_describe_api_name ?? 'SalesOrderObj',
    _id: order._id,
    [orderStatus.crmField]: value,
  };
}

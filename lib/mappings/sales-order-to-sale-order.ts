/**
 * Flow 2, `sales-order-to-sale-order`: a CRM sales order (SalesOrderObj + SalesOrderProductObj rows)
 * becomes a K3 sales order (SAL_SaleOrder with FSaleOrderEntry rows).
 *
 * The pipeline resolves the references first and hands them in: the ERP customer number of the order's
 * account (running the customer flow when the account is not synced yet) and, for every product on the
 * order, its ERP material (`materials.ts`: which number a product names, whether K3 has it audited and
 * enabled, which unit to sell in). A product missing from that map is a business error naming the product.
 *
 * The flow writes, in this order: FID, FBillTypeID (create only), FBillNo (only when it is the external
 * key), FDate, FSaleOrgId, FCustId, the external key field, FSaleOrderFinance {FSettleCurrId,
 * FIsIncludedTax}, then `fields`, then FSaleOrderEntry rows {FEntryID on updates, FMaterialId, FUnitID,
 * FPriceUnitId, FQty, FTaxPrice or FPrice, FEntryTaxRate, FIsFree, FDeliveryDate, FSettleOrgIds,
 * FStockOrgId, the line key field, then `entryFields`}.
 */
import type { CrmRecord, CrmRecordWithDetails } from '../fxiaoke/records.ts';
import { readCrmNumber, readCrmString } from '../fxiaoke/records.ts';
import type { CrmToK3Rule, SalesOrderToSaleOrderFlow, SyncConfig } from './config.ts';
import { requireFlow } from './config.ts';
import { buildWriteBack, type CrmObjectData, crmRecordRef, readExternalKey } from './crm-record.ts';
import { matchRows, type SourceLine } from './entry-matching.ts';
import { MappingError, type MappingNote, ProblemList, showValue } from './errors.ts';
import { applyCrmRule, applyCrmRules, type RuleContext, roundDecimal } from './field-rules.ts';
import { contentHash } from './hash.ts';
import {
  buildBillQuery,
  cellId,
  cellText,
  type K3BillQuery,
  type K3Model,
  type K3SaveData,
  k3Equals,
  parseBillQueryRows,
} from './k3-requests.ts';
import type { ResolvedMaterial } from './materials.ts';
import { buildSaveData, subHeadersOf } from './save-payload.ts';

export const SALE_ORDER_FORM_ID = 'SAL_SaleOrder';
const ENTRY_KEY = 'FSaleOrderEntry';
const FINANCE_KEY = 'FSaleOrderFinance';
const FLOW_PATH = 'flows.salesOrderToSaleOrder';
const LINE_API_NAME = 'SalesOrderProductObj';
/** Line amounts are in cents; allow for the CRM's own rounding of quantity × price. */
const SUBTOTAL_TOLERANCE = 0.01 + 1e-9;

/** References the pipeline resolved before mapping. */
export interface SaleOrderRefs {
  /** ERP customer number of the order's account. */
  customerNumber: string;
  /** CRM ProductObj `_id` → its ERP material. A product absent here has no material in K3. */
  materials: ReadonlyMap<string, ResolvedMaterial>;
}

export interface ExistingSaleOrderEntry {
  /** FEntryID. */
  entryId: number;
  materialNumber: string | undefined;
  /** The CRM line id stored in `entryKey.erpField`, when configured. */
  lineKey: string | undefined;
}

/** The ERP order an earlier sync created, with its rows in FEntryID order. */
export interface ExistingSaleOrder {
  id: number;
  billNo: string | undefined;
  /** A 创建, B 审核中, C 已审核, D 重新审核, Z 暂存: the pipeline un-audits before updating a C order. */
  documentStatus: string | undefined;
  entries: ExistingSaleOrderEntry[];
}

/** How the CRM lines map onto existing ERP rows in an update. */
export interface EntryPlan {
  /** CRM line id → FEntryID it updates. */
  kept: Map<string, number>;
  /** CRM line ids that become new rows (FEntryID 0). */
  added: string[];
  /** FEntryIDs K3 deletes (IsDeleteEntry is true exactly when this is not empty). */
  removed: number[];
}

export interface SaleOrderLine {
  crmLineId: string;
  productId: string;
  materialNumber: string;
  quantity: number;
}

export interface SaleOrderMapping {
  formId: typeof SALE_ORDER_FORM_ID;
  mode: 'create' | 'update';
  save: K3SaveData;
  /** Hash of the mapped content without ids: equal to the last synced hash → nothing to send. */
  contentHash: string;
  externalKey: { erpField: string; value: string };
  submitAndAudit: boolean;
  /** Present on updates. */
  entryPlan?: EntryPlan;
  /** The mapped lines in entry order. */
  lines: SaleOrderLine[];
  notes: MappingNote[];
}

/** The live detail rows of the order, in a stable order (creation time, then id). */
function orderLines(order: CrmRecordWithDetails): CrmRecord[] {
  const rows = order.details[LINE_API_NAME] ?? [];
  return rows
    .filter((row) => row.is_deleted !== true && row.life_status !== 'invalid')
    .sort(
      (a, b) => (a.create_time ?? 0) - (b.create_time ?? 0) || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0),
    );
}

function lineLabel(line: CrmRecord): { zh: string; en: string } {
  const name = readCrmString(line, 'product_id__r') ?? readCrmString(line, 'product_id') ?? '?';
  return { zh: `订单产品「${name}」(id ${line._id})：`, en: `line "${name}" (id ${line._id}): ` };
}

function dateRule(field: string, required: boolean): CrmToK3Rule {
  return { from: field, read: 'date', trim: true, required, createOnly: false };
}

interface MappedLine {
  line: CrmRecord;
  row: K3Model;
  info: SaleOrderLine;
  key: string | undefined;
  createOnly: string[];
  /** `entryFields` text targets left empty: cleared ('') on kept rows of an update. */
  emptyText: string[];
}

function mapLine(
  line: CrmRecord,
  flow: SalesOrderToSaleOrderFlow,
  refs: SaleOrderRefs,
  settings: {
    saleOrg: string;
    settleOrg: string;
    stockOrg: string;
    taxRate: number;
    deliveryDate: string | undefined;
  },
  ctx: RuleContext,
): MappedLine | undefined {
  const scope = lineLabel(line);
  const lineCtx: RuleContext = { ...ctx, scope };
  const problems = ctx.problems;
  const before = problems.size;

  const productId = readCrmString(line, 'product_id')?.trim();
  const material = productId === undefined ? undefined : refs.materials.get(productId);
  if (productId === undefined) {
    problems.add({
      kind: 'business',
      code: 'REQUIRED_FIELD_MISSING',
      field: 'product_id',
      zh: `${scope.zh}没有选择产品（product_id 为空）`,
      en: `${scope.en}no product selected (product_id is empty)`,
    });
  } else if (material === undefined) {
    const name = readCrmString(line, 'product_id__r') ?? productId;
    problems.add({
      kind: 'business',
      code: 'PRODUCT_WITHOUT_MATERIAL',
      field: 'product_id',
      value: productId,
      zh: `产品「${name}」(id ${productId}) 在金蝶中没有对应的物料，请先在金蝶建立物料或在产品上填写物料编码`,
      en: `product "${name}" (id ${productId}) has no material in K3Cloud; create the material in K3 or set the product's material number`,
    });
  }

  const quantity = readCrmNumber(line, 'quantity');
  if (quantity === undefined || quantity <= 0) {
    const raw = line.quantity;
    problems.add({
      kind: 'business',
      code: quantity === undefined ? 'REQUIRED_FIELD_MISSING' : 'INVALID_QUANTITY',
      field: 'quantity',
      value: raw,
      zh: `${scope.zh}数量 quantity ${quantity === undefined ? '为空或不是数字' : `为 ${showValue(raw)}，必须大于 0`}`,
      en: `${scope.en}quantity ${quantity === undefined ? 'is empty or not a number' : `is ${showValue(raw)}; it must be greater than 0`}`,
    });
  }

  const listPrice = readCrmNumber(line, flow.priceField);
  const discount = flow.discountField === undefined ? 100 : (readCrmNumber(line, flow.discountField) ?? 100);
  // K3 keeps unit prices to 6 decimals at most (price precision of the preset currencies).
  const price = listPrice === undefined ? undefined : roundDecimal((listPrice * discount) / 100, 6);
  let free = false;
  if (price === undefined || price < 0) {
    problems.add({
      kind: 'business',
      code: price === undefined ? 'REQUIRED_FIELD_MISSING' : 'INVALID_PRICE',
      field: flow.priceField,
      value: line[flow.priceField],
      zh: `${scope.zh}销售单价 ${flow.priceField} ${price === undefined ? '为空或不是数字' : '不能为负数'}`,
      en: `${scope.en}${flow.priceField} ${price === undefined ? 'is empty or not a number' : 'must not be negative'}`,
    });
  } else if (price === 0) {
    if (flow.zeroPriceLines === 'free') {
      free = true;
    } else {
      problems.add({
        kind: 'business',
        code: 'ZERO_PRICE',
        field: flow.priceField,
        value: line[flow.priceField],
        zh: `${scope.zh}销售单价为 0；金蝶拒绝非赠品的零单价（非赠品单价不能为0）。如为赠品，请设置 ${FLOW_PATH}.zeroPriceLines: free`,
        en: `${scope.en}the price is 0; K3 rejects a zero price on a non-gift line (非赠品单价不能为0). For gifts set ${FLOW_PATH}.zeroPriceLines: free`,
      });
    }
  }
  const subtotal = readCrmNumber(line, flow.subtotalField);
  const lineIsSound = problems.size === before;
  if (
    flow.checkSubtotal &&
    lineIsSound &&
    subtotal !== undefined &&
    price !== undefined &&
    quantity !== undefined
  ) {
    const amount = roundDecimal(quantity * price, 2);
    // The CRM rounds line amounts to cents; more than a cent apart means the price is read wrongly (most
    // often: the discount is applied in the CRM amount but not configured here, or the other way round).
    if (Math.abs(amount - subtotal) > SUBTOTAL_TOLERANCE) {
      problems.add({
        kind: 'config',
        code: 'SUBTOTAL_MISMATCH',
        field: flow.subtotalField,
        value: line[flow.subtotalField],
        zh: `${scope.zh}数量 × 单价 = ${amount}，与纷享小计 ${subtotal} 不符：请检查 ${FLOW_PATH}.priceField/discountField（单价是否已含折扣）`,
        en: `${scope.en}quantity × price = ${amount}, but the CRM line amount is ${subtotal}: check ${FLOW_PATH}.priceField/discountField (is the price already discounted?)`,
      });
    }
  }

  const unit = material?.unitNumber ?? flow.defaultUnitNumber;
  if (material !== undefined && unit === undefined) {
    problems.add({
      kind: 'config',
      code: 'NO_UNIT',
      field: 'product_id',
      value: productId,
      zh: `${scope.zh}物料 ${material.number} 没有单位：请配置 ${FLOW_PATH}.material.unitField/unitDictionary 或 ${FLOW_PATH}.defaultUnitNumber`,
      en: `${scope.en}material ${material.number} has no unit: configure ${FLOW_PATH}.material.unitField/unitDictionary or ${FLOW_PATH}.defaultUnitNumber`,
    });
  }

  const key = flow.entryKey === undefined ? undefined : readCrmString(line, flow.entryKey.crmField)?.trim();
  const row: K3Model = {};
  if (material !== undefined && unit !== undefined) {
    row.FMaterialId = { FNumber: material.number };
    row.FUnitID = { FNumber: unit };
    row.FPriceUnitId = { FNumber: unit };
  }
  if (quantity !== undefined) row.FQty = quantity;
  if (price !== undefined) row[flow.priceIncludesTax ? 'FTaxPrice' : 'FPrice'] = price;
  row.FEntryTaxRate = settings.taxRate;
  row.FIsFree = free;
  if (settings.deliveryDate !== undefined) row.FDeliveryDate = settings.deliveryDate;
  row.FSettleOrgIds = { FNumber: settings.settleOrg };
  row.FStockOrgId = { FNumber: settings.stockOrg };
  if (flow.entryKey !== undefined && key) row[flow.entryKey.erpField] = key;
  const applied = applyCrmRules(flow.entryFields, line, row, lineCtx);

  if (problems.size > before || material === undefined || productId === undefined || quantity === undefined) {
    return undefined;
  }
  return {
    line,
    row,
    key: key || undefined,
    createOnly: applied.createOnly,
    emptyText: applied.emptyText,
    info: { crmLineId: line._id, productId, materialNumber: material.number, quantity },
  };
}

/**
 * Map a CRM sales order with its lines to a SAL_SaleOrder Save body.
 *
 * On an update (`options.existing`), CRM lines are matched to the existing rows (by the line key when
 * `entryKey` is configured, else by material in order), matched rows keep their FEntryID, new lines get
 * FEntryID 0, and `IsDeleteEntry` is true only when some existing row has no CRM line left.
 *
 * @throws {MappingError} kind `business` naming each bad field or line (missing date, product without
 *   material, quantity ≤ 0, zero price…), kind `config` when a value or unit has no mapping.
 * @throws {ConfigError} when the flow is not configured or disabled.
 */
export function mapSalesOrderToSaleOrder(
  order: CrmRecordWithDetails,
  config: SyncConfig,
  refs: SaleOrderRefs,
  options: { existing?: ExistingSaleOrder | undefined } = {},
): SaleOrderMapping {
  const flow = requireFlow(config, 'salesOrderToSaleOrder');
  const header = order.record;
  const record = crmRecordRef(header, 'SalesOrderObj');
  const problems = new ProblemList();
  const notes: MappingNote[] = [];
  const ctx: RuleContext = {
    config,
    flowPath: FLOW_PATH,
    flowDictionaries: flow.dictionaries,
    problems,
    notes,
  };

  const saleOrg = flow.saleOrgNumber ?? config.erp.orgNumber;
  const content: K3Model = {
    FBillTypeID: { FNUMBER: flow.billTypeNumber ?? config.erp.billTypes.saleOrder },
  };
  const keyValue = readExternalKey(header, flow.externalKey, FLOW_PATH, problems);
  // An FBillNo key is the bill number itself (explicit FBillNo is accepted on create, K3 spec §5); any
  // other key is an extension field written after the customer.
  const keyIsBillNo = flow.externalKey.erpField.toLowerCase() === 'fbillno';
  if (keyIsBillNo) content.FBillNo = keyValue;
  const date = applyCrmRule('FDate', dateRule(flow.dateField, true), header, ctx);
  if (typeof date === 'string') content.FDate = date;
  content.FSaleOrgId = { FNumber: saleOrg };
  content.FCustId = { FNumber: refs.customerNumber };
  if (!keyIsBillNo) content[flow.externalKey.erpField] = keyValue;
  content[FINANCE_KEY] = {
    FSettleCurrId: { FNumber: flow.currencyNumber ?? config.erp.currencyNumber },
    FIsIncludedTax: flow.priceIncludesTax,
  };
  const applied = applyCrmRules(flow.fields, header, content, ctx);

  const delivery = applyCrmRule('FDeliveryDate', dateRule(flow.deliveryDateField, false), header, ctx);
  const settings = {
    saleOrg,
    settleOrg: flow.settleOrgNumber ?? saleOrg,
    stockOrg: flow.stockOrgNumber ?? saleOrg,
    taxRate: flow.taxRatePercent ?? config.erp.taxRatePercent,
    deliveryDate: typeof delivery === 'string' ? delivery : typeof date === 'string' ? date : undefined,
  };
  const lines = orderLines(order);
  if (lines.length === 0) {
    problems.add({
      kind: 'business',
      code: 'NO_LINES',
      field: LINE_API_NAME,
      zh: '订单没有产品明细（SalesOrderProductObj）',
      en: 'the order has no product lines (SalesOrderProductObj)',
    });
  }
  const mapped = lines.map((line) => mapLine(line, flow, refs, settings, ctx));
  problems.throwIfAny(record);
  const mappedLines = mapped.filter((line): line is MappedLine => line !== undefined);
  if (mappedLines.length !== lines.length) throw new Error('a line failed to map without a recorded problem');

  const hashContent: K3Model = { ...content, [ENTRY_KEY]: mappedLines.map((line) => line.row) };
  const hash = contentHash({ formId: SALE_ORDER_FORM_ID, content: hashContent });
  const createOnly = new Set(['FBillTypeID', ...applied.createOnly]);
  const shape = {
    pkKey: 'FID',
    subHeaders: new Set([FINANCE_KEY, ...subHeadersOf(applied.written)]),
    entries: { [ENTRY_KEY]: 'FEntryID' },
    createOnly,
  };
  const base = {
    formId: SALE_ORDER_FORM_ID,
    contentHash: hash,
    externalKey: { erpField: flow.externalKey.erpField, value: keyValue },
    submitAndAudit: flow.submitAndAudit,
    lines: mappedLines.map((line) => line.info),
    notes,
  } as const;

  const existing = options.existing;
  if (existing === undefined) {
    const shaped = buildSaveData(hashContent, shape, undefined);
    return { ...base, mode: shaped.mode, save: shaped.save };
  }

  const sources: SourceLine[] = mappedLines.map((line) => ({
    lineId: line.line._id,
    key: line.key,
    item: line.info.materialNumber,
  }));
  const match = matchRows(
    sources,
    existing.entries.map((entry) => ({ id: entry.entryId, key: entry.lineKey, item: entry.materialNumber })),
    flow.entryKey !== undefined,
  );
  const rows = mappedLines.map((line) => {
    const entryId = match.matched.get(line.line._id);
    if (entryId === undefined) return { FEntryID: 0, ...line.row };
    const row: K3Model = { FEntryID: entryId };
    for (const [rowKey, value] of Object.entries(line.row)) {
      if (!line.createOnly.includes(rowKey)) row[rowKey] = value;
    }
    for (const target of line.emptyText) {
      if (!line.createOnly.includes(target) && row[target] === undefined) row[target] = '';
    }
    return row;
  });
  const saveContent: K3Model = { ...content, [ENTRY_KEY]: rows };
  const shaped = buildSaveData(saveContent, shape, existing.id, applied.emptyText, match.removed.length > 0);
  return {
    ...base,
    mode: shaped.mode,
    save: shaped.save,
    entryPlan: { kept: match.matched, added: match.added, removed: match.removed },
  };
}

/**
 * The ExecuteBillQuery that finds the ERP order of a CRM order (by external key) or reads a linked order's
 * rows (by FID), one row per entry.
 *
 * @throws {MappingError} kind `business` when looking up by a CRM order without an external key value.
 */
export function buildSaleOrderLookup(
  config: SyncConfig,
  by: { order: CrmRecord } | { id: number },
): K3BillQuery {
  const flow = requireFlow(config, 'salesOrderToSaleOrder');
  let filter: string;
  if ('order' in by) {
    const problems = new ProblemList();
    const value = readExternalKey(by.order, flow.externalKey, FLOW_PATH, problems);
    problems.throwIfAny(crmRecordRef(by.order, 'SalesOrderObj'));
    filter = k3Equals(flow.externalKey.erpField, value);
  } else {
    filter = k3Equals('FID', by.id);
  }
  const keys = ['FID', 'FBillNo', 'FDocumentStatus', `${ENTRY_KEY}_FEntryID`, 'FMaterialId.FNumber'];
  if (flow.entryKey !== undefined) keys.push(flow.entryKey.erpField);
  return buildBillQuery(SALE_ORDER_FORM_ID, keys, filter, { limit: 2000 });
}

/**
 * The ERP order found by {@link buildSaleOrderLookup}, or undefined.
 *
 * @throws {MappingError} kind `business` (DUPLICATE_EXTERNAL_KEY) when several ERP orders carry the key.
 * @throws {K3RowsError} when the rows are malformed.
 */
export function parseSaleOrderLookup(
  query: K3BillQuery,
  rows: unknown,
  config: SyncConfig,
  order?: CrmRecord,
): ExistingSaleOrder | undefined {
  const flow = requireFlow(config, 'salesOrderToSaleOrder');
  const orders = new Map<number, ExistingSaleOrder>();
  for (const row of parseBillQueryRows(query, rows)) {
    const id = cellId(row, 'FID', query.FormId);
    let found = orders.get(id);
    if (!found) {
      found = {
        id,
        billNo: cellText(row, 'FBillNo'),
        documentStatus: cellText(row, 'FDocumentStatus'),
        entries: [],
      };
      orders.set(id, found);
    }
    // An order without rows still answers one row, with empty entry columns.
    if (cellText(row, `${ENTRY_KEY}_FEntryID`) !== undefined) {
      found.entries.push({
        entryId: cellId(row, `${ENTRY_KEY}_FEntryID`, query.FormId),
        materialNumber: cellText(row, 'FMaterialId.FNumber'),
        lineKey: flow.entryKey === undefined ? undefined : cellText(row, flow.entryKey.erpField)?.trim(),
      });
    }
  }
  if (orders.size > 1) {
    const numbers = [...orders.values()].map((o) => o.billNo ?? String(o.id)).join(', ');
    throw new MappingError(
      order ? crmRecordRef(order, 'SalesOrderObj') : { apiName: SALE_ORDER_FORM_ID, id: '?' },
      [
        {
          kind: 'business',
          code: 'DUPLICATE_EXTERNAL_KEY',
          zh: `金蝶中有多张销售订单使用同一外部键（${numbers}），请先在金蝶中处理`,
          en: `several K3 sales orders carry the same external key (${numbers}); resolve them in K3 first`,
        },
      ],
    );
  }
  const result = orders.values().next().value;
  result?.entries.sort((a, b) => a.entryId - b.entryId);
  return result;
}

/** The CRM update writing the ERP bill number back, or undefined (not configured / already there). */
export function buildSaleOrderWriteBack(
  order: CrmRecord,
  erpBillNo: string,
  config: SyncConfig,
): CrmObjectData | undefined {
  const flow = requireFlow(config, 'salesOrderToSaleOrder');
  return buildWriteBack(order, 'SalesOrderObj', flow.writeBack?.crmField, erpBillNo);
}

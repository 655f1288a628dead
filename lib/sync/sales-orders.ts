/**
 * Flow 2, `sales-order-to-sale-order`: CRM sales orders (SalesOrderObj + SalesOrderProductObj rows) become
 * K3 sales orders (SAL_SaleOrder with FSaleOrderEntry rows): saved (保存), submitted (提交) and audited
 * (审核); an audited order is un-audited (反审核) before an update when `unAuditToUpdate` allows it.
 *
 * Primary course of one queue batch:
 * 1. Group the events by order (a line event, SalesOrderProductObj, counts for its order).
 * 2. Re-read the orders with their lines (coalesced; the lines' products are prefetched as snapshots).
 * 3. Resolve the customer of every order: linked → its ERP number; not linked yet → run the customer
 *    use case for those accounts right here (the dependency is resolved, not skipped).
 * 4. Resolve every product's ERP material with one K3 query (audited, enabled, in the sale organisation);
 *    a product without one fails its order with a business error naming the product.
 * 5. The shared pipeline (`crm-to-erp.ts`) writes the orders.
 * 6. Queue the bill-number write-back, and — when the order is in the configured state and has no
 *    delivery notice yet — a request for the `sale-order-to-delivery-notice` flow.
 */
import { asSyncError, type SyncError } from '../errors.ts';
import type { CrmRecord, CrmRecordWithDetails } from '../fxiaoke/records.ts';
import { readCrmString } from '../fxiaoke/records.ts';
import { requireFlow } from '../mappings/config.ts';
import { crmRecordEligibility } from '../mappings/crm-record.ts';
import { MappingError } from '../mappings/errors.ts';
import { buildBillQuery, fieldKeysOf, k3Any, k3In } from '../mappings/k3-requests.ts';
import {
  buildMaterialQuery,
  materialOfProduct,
  parseMaterialRows,
  type ResolvedMaterial,
  resolveMaterials,
} from '../mappings/materials.ts';
import { isDeliveryNoticeRequested } from '../mappings/sale-order-to-delivery-notice.ts';
import {
  buildSaleOrderWriteBack,
  type ExistingSaleOrder,
  mapSalesOrderToSaleOrder,
  parseSaleOrderLookup,
  SALE_ORDER_FORM_ID,
  type SaleOrderMapping,
} from '../mappings/sales-order-to-sale-order.ts';
import type { BatchContext, QueueRecord, RecordReport } from './batch.ts';
import {
  type CrmToErpItem,
  type CrmToErpSpec,
  crmLinkKey,
  type ErpFound,
  type ErpLookup,
  flowEnabled,
  syncCrmToErp,
} from './crm-to-erp.ts';
import {
  ACCOUNT_API_NAME,
  customerResult,
  groupChanges,
  type RecordGroup,
  skippedReports,
  syncCustomers,
  unroutedReports,
} from './customers.ts';
import { dependencyFailed, PipelineError } from './errors.ts';
import { queryRawRows } from './k3-query.ts';
import {
  type ChangeMessage,
  deliveryNoticeMessage,
  type OutgoingMessage,
  writeBackMessage,
} from './messages.ts';
import type { SyncRuntime } from './runtime.ts';

export const ORDER_FLOW = 'sales-order-to-sale-order';
export const ORDER_API_NAME = 'SalesOrderObj';
export const ORDER_LINE_API_NAME = 'SalesOrderProductObj';
/** The lines' master field (Fxiaoke preset, see `PRESET_DETAIL_SPECS`). */
const LINE_ORDER_FIELD = 'order_id';
const FLOW_PATH = 'flows.salesOrderToSaleOrder';
export const NOTICE_FORM_ID = 'SAL_DELIVERYNOTICE';

interface OrderRefs {
  customerNumber: string;
  materials: ReadonlyMap<string, ResolvedMaterial>;
}

/**
 * The version the order's link compares: the newest modify time of the order and its lines. A change of a
 * line alone may leave the order's own `version` unchanged [unverified against a live tenant], and modify
 * times only grow, so this catches both.
 */
export function orderVersion(order: CrmRecordWithDetails): number {
  let newest = order.record.last_modified_time ?? order.record.version ?? 0;
  for (const line of order.details[ORDER_LINE_API_NAME] ?? []) {
    newest = Math.max(newest, line.last_modified_time ?? 0);
  }
  return newest;
}

function orderSpec(runtime: SyncRuntime): CrmToErpSpec<OrderRefs, ExistingSaleOrder, SaleOrderMapping> {
  const config = runtime.config;
  const flow = requireFlow(config, 'salesOrderToSaleOrder');
  const erpField = flow.externalKey.erpField;
  return {
    flow: ORDER_FLOW,
    flowPath: FLOW_PATH,
    apiName: ORDER_API_NAME,
    formId: SALE_ORDER_FORM_ID,
    submitAndAudit: flow.submitAndAudit,
    unAuditToUpdate: flow.unAuditToUpdate,
    map: (item, existing) =>
      mapSalesOrderToSaleOrder(item.record, config, item.refs, existing ? { existing: existing.detail } : {}),
    async lookup(keys, ids, options): Promise<ErpLookup<ExistingSaleOrder>> {
      const entryKeys = [
        'FID',
        'FBillNo',
        'FDocumentStatus',
        'FSaleOrderEntry_FEntryID',
        'FMaterialId.FNumber',
      ];
      if (flow.entryKey !== undefined) entryKeys.push(flow.entryKey.erpField);
      entryKeys.push(erpField);
      // One row per entry row, for every order of the batch: by external key or by linked FID.
      const query = buildBillQuery(
        SALE_ORDER_FORM_ID,
        entryKeys,
        k3Any(
          keys.length > 0 ? k3In(erpField, [...new Set(keys)]) : undefined,
          ids.length > 0 ? k3In('FID', [...new Set(ids)]) : undefined,
        ),
        { limit: 2000, orderBy: 'FID ASC' },
      );
      const columns = fieldKeysOf(query).map((key) => key.toLowerCase());
      const fidColumn = columns.indexOf('fid');
      const keyColumn = columns.indexOf(erpField.toLowerCase());
      const rowsByFid = new Map<number, unknown[][]>();
      for (const raw of await queryRawRows(runtime.k3(), query, options)) {
        if (!Array.isArray(raw)) continue;
        const fid = Number(raw[fidColumn]);
        const list = rowsByFid.get(fid) ?? [];
        list.push(raw);
        rowsByFid.set(fid, list);
      }
      const byKey = new Map<string, ErpFound<ExistingSaleOrder>[]>();
      const byId = new Map<number, ErpFound<ExistingSaleOrder>>();
      for (const rows of rowsByFid.values()) {
        // The mapping module's own reader, one order at a time (the rows are grouped by FID).
        const existing = parseSaleOrderLookup(query, rows, config);
        if (!existing) continue;
        const found: ErpFound<ExistingSaleOrder> = {
          id: existing.id,
          number: existing.billNo,
          status: existing.documentStatus,
          detail: existing,
        };
        byId.set(found.id, found);
        const keyCell = rows[0]?.[keyColumn];
        const key =
          typeof keyCell === 'string' ? keyCell.trim() : typeof keyCell === 'number' ? String(keyCell) : '';
        if (key) byKey.set(key, [...(byKey.get(key) ?? []), found]);
      }
      return { byKey, byId };
    },
  };
}

interface OrderGroup extends RecordGroup {
  /** Line events that pointed here. */
  viaLines: boolean;
}

/** Find the orders of line events (SalesOrderProductObj) so they are processed as order changes. */
async function ordersOfLineEvents(
  runtime: SyncRuntime,
  lineGroups: readonly RecordGroup[],
): Promise<Map<string, string>> {
  const orderOfLine = new Map<string, string>();
  if (lineGroups.length === 0) return orderOfLine;
  const reads = await runtime.reader().read(
    ORDER_LINE_API_NAME,
    lineGroups.map((g) => ({ id: g.id, notBeforeMs: g.notBeforeMs, inboxMessageIds: g.inboxMessageIds })),
  );
  for (const group of lineGroups) {
    const read = reads.get(group.id);
    const orderId = read?.found ? readCrmString(read.record, LINE_ORDER_FIELD) : undefined;
    if (orderId) orderOfLine.set(group.id, orderId);
  }
  return orderOfLine;
}

/**
 * The order queue's batch (see the module comment).
 */
export async function processSalesOrderChanges(
  records: QueueRecord<ChangeMessage>[],
  ctx: BatchContext,
): Promise<RecordReport[]> {
  const { runtime, logger } = ctx;
  const config = runtime.config;
  const handled = [ORDER_API_NAME, ORDER_LINE_API_NAME];
  const reports = unroutedReports(ORDER_FLOW, records, handled);
  const orderEvents = groupChanges(records.filter((r) => r.body.apiName === ORDER_API_NAME));
  const lineEvents = groupChanges(records.filter((r) => r.body.apiName === ORDER_LINE_API_NAME));
  if (!flowEnabled(config, 'salesOrderToSaleOrder')) {
    return [
      ...reports,
      ...skippedReports(ORDER_FLOW, ORDER_API_NAME, orderEvents.values(), 'flow disabled'),
      ...skippedReports(ORDER_FLOW, ORDER_LINE_API_NAME, lineEvents.values(), 'flow disabled'),
    ];
  }

  // 1. One group per order.
  const groups = new Map<string, OrderGroup>();
  for (const group of orderEvents.values()) {
    groups.set(group.id, {
      ...group,
      sqsMessageIds: [...group.sqsMessageIds],
      inboxMessageIds: [...group.inboxMessageIds],
      viaLines: false,
    });
  }
  const orderOfLine = await ordersOfLineEvents(runtime, [...lineEvents.values()]);
  for (const line of lineEvents.values()) {
    const orderId = orderOfLine.get(line.id);
    if (orderId === undefined) {
      reports.push(
        ...skippedReports(ORDER_FLOW, ORDER_LINE_API_NAME, [line], 'not-found: the line no longer exists'),
      );
      continue;
    }
    const group = groups.get(orderId);
    if (group) {
      group.sqsMessageIds.push(...line.sqsMessageIds);
      group.inboxMessageIds.push(...line.inboxMessageIds);
      group.notBeforeMs = Math.max(group.notBeforeMs, line.notBeforeMs);
    } else {
      groups.set(orderId, { ...line, id: orderId, viaLines: true });
    }
  }

  // 2. Re-read the orders with their lines.
  const reads = await runtime.reader().read(
    ORDER_API_NAME,
    [...groups.values()].map((g) => ({
      id: g.id,
      notBeforeMs: g.notBeforeMs,
      // Only the order's own events have a pending read of SalesOrderObj (line events were read as lines).
      inboxMessageIds: orderEvents.get(g.id)?.inboxMessageIds ?? [],
    })),
  );
  const orders = new Map<string, { group: OrderGroup; order: CrmRecordWithDetails }>();
  for (const group of groups.values()) {
    const read = reads.get(group.id);
    if (!read?.found) {
      reports.push(
        ...skippedReports(
          ORDER_FLOW,
          ORDER_API_NAME,
          [group],
          'not-found: the order no longer exists or is not visible',
        ),
      );
      continue;
    }
    const order = { record: read.record, details: read.details };
    const eligibility = crmRecordEligibility(order.record, config);
    if (!eligibility.eligible) {
      reports.push(
        ...skippedReports(ORDER_FLOW, ORDER_API_NAME, [group], `${eligibility.reason}: ${eligibility.en}`),
      );
      continue;
    }
    orders.set(group.id, { group, order });
  }

  // 3. Customers.
  const customerErrors = new Map<string, SyncError>();
  const customerNumbers = await resolveCustomers(
    runtime,
    [...orders.values()],
    customerErrors,
    reports,
    logger,
    ctx.signal,
  );

  // 4. Materials.
  const { materials, productErrors } = await resolveOrderMaterials(runtime, [...orders.values()]);

  // 5. Write the orders.
  const items: CrmToErpItem<OrderRefs>[] = [];
  const failedEarly = new Map<string, SyncError>();
  for (const { group, order } of orders.values()) {
    const accountId = readCrmString(order.record, 'account_id');
    const customerError = accountId === undefined ? undefined : customerErrors.get(accountId);
    const customerNumber = accountId === undefined ? undefined : customerNumbers.get(accountId);
    const productError = (order.details[ORDER_LINE_API_NAME] ?? [])
      .map((line) => productErrors.get(readCrmString(line, 'product_id') ?? ''))
      .find((e) => e !== undefined);
    if (customerError || productError || customerNumber === undefined) {
      failedEarly.set(
        group.id,
        customerError ??
          productError ??
          new PipelineError(
            `订单没有客户（account_id 为空）/ the order has no account (account_id is empty)`,
            { kind: 'business', fault: 'caller', code: 'ORDER_WITHOUT_ACCOUNT' },
          ),
      );
      continue;
    }
    items.push({
      crmId: group.id,
      record: order,
      version: orderVersion(order),
      owner: group.owner,
      correlationId: group.correlationId,
      inboxMessageIds: group.inboxMessageIds,
      refs: { customerNumber, materials },
    });
  }
  const callOptions = ctx.signal ? { signal: ctx.signal } : {};
  const outcomes = await syncCrmToErp(orderSpec(runtime), items, { runtime, logger, callOptions });

  // 6. Write-back and delivery-notice requests.
  const writeBacks: { orderId: string; message: OutgoingMessage }[] = [];
  const notices: { orderId: string; message: OutgoingMessage }[] = [];
  const noticeFlow = flowEnabled(config, 'saleOrderToDeliveryNotice');
  for (const item of items) {
    const outcome = outcomes.get(item.crmId);
    const number = outcome?.erpNumber ?? outcome?.link?.erpNumber;
    if (!outcome || outcome.outcome === 'failed' || number === undefined) continue;
    const update = buildSaleOrderWriteBack(item.record.record, number, config);
    if (update) {
      const { dataObjectApiName, _id, ...fields } = update;
      writeBacks.push({
        orderId: item.crmId,
        message: writeBackMessage({
          kind: 'write-back',
          apiName: dataObjectApiName,
          id: _id ?? item.crmId,
          fields,
          flow: ORDER_FLOW,
          reason: 'erp-number',
          requestedAtMs: runtime.clock(),
        }),
      });
    }
    if (noticeFlow && isDeliveryNoticeRequested(item.record.record, config)) {
      const noticeLink = await runtime.state.links.get(
        crmLinkKey(ORDER_API_NAME, item.crmId, NOTICE_FORM_ID),
      );
      if (noticeLink?.state !== 'linked') {
        notices.push({
          orderId: item.crmId,
          message: deliveryNoticeMessage({
            kind: 'delivery-notice',
            orderId: item.crmId,
            orderVersion: item.version,
            ...(item.inboxMessageIds[0] ? { sourceMessageId: item.inboxMessageIds[0] } : {}),
            requestedAtMs: runtime.clock(),
          }),
        });
      }
    }
  }
  const queueErrors = new Map<string, SyncError>();
  for (const [role, list] of [
    ['crmWriteBack', writeBacks],
    ['saleOrderToDeliveryNotice', notices],
  ] as const) {
    if (list.length === 0) continue;
    try {
      await runtime.queues.send(
        role,
        list.map((l) => l.message),
      );
    } catch (error) {
      for (const l of list) queueErrors.set(l.orderId, asSyncError(error));
    }
  }

  for (const { group, order } of orders.values()) {
    const early = failedEarly.get(group.id);
    const outcome = outcomes.get(group.id);
    const queueError = queueErrors.get(group.id);
    const base = {
      flow: ORDER_FLOW,
      source: { system: 'crm' as const, type: ORDER_API_NAME, id: group.id },
      sourceVersion: orderVersion(order),
      inboxMessageIds: group.inboxMessageIds,
      correlationId: group.correlationId,
    };
    if (early) {
      reports.push({
        sqsMessageIds: group.sqsMessageIds,
        result: { ...base, outcome: 'failed', error: early },
      });
      continue;
    }
    if (!outcome) continue;
    const failedBy = queueError ?? outcome.error;
    reports.push({
      sqsMessageIds: group.sqsMessageIds,
      result: {
        ...base,
        outcome: queueError ? 'failed' : outcome.outcome,
        reason: outcome.reason,
        error: failedBy,
        operations: outcome.operations,
        ...(outcome.erpId
          ? {
              target: {
                system: 'erp' as const,
                type: SALE_ORDER_FORM_ID,
                ids: [outcome.erpId],
                ...(outcome.erpNumber ? { number: outcome.erpNumber } : {}),
              },
            }
          : {}),
      },
    });
  }
  return reports;
}

/**
 * ERP customer numbers of the orders' accounts; accounts not linked yet are synced now (customer flow use
 * case). Failures go to `errors` by account id; the customers' own results are added to `reports`.
 */
async function resolveCustomers(
  runtime: SyncRuntime,
  orders: readonly { group: OrderGroup; order: CrmRecordWithDetails }[],
  errors: Map<string, SyncError>,
  reports: RecordReport[],
  logger: BatchContext['logger'],
  signal: AbortSignal | undefined,
): Promise<Map<string, string>> {
  const numbers = new Map<string, string>();
  const firstOrderOf = new Map<string, OrderGroup>();
  for (const { group, order } of orders) {
    const accountId = readCrmString(order.record, 'account_id');
    if (accountId !== undefined && !firstOrderOf.has(accountId)) firstOrderOf.set(accountId, group);
  }
  const missing: string[] = [];
  await Promise.all(
    [...firstOrderOf.keys()].map(async (accountId) => {
      try {
        const link = await runtime.state.links.get(crmLinkKey(ACCOUNT_API_NAME, accountId, 'BD_Customer'));
        if (link?.state === 'linked' && link.erpNumber) numbers.set(accountId, link.erpNumber);
        else missing.push(accountId);
      } catch (error) {
        errors.set(accountId, asSyncError(error));
      }
    }),
  );
  if (missing.length === 0) return numbers;
  if (!flowEnabled(runtime.config, 'accountToCustomer')) {
    for (const accountId of missing) {
      errors.set(
        accountId,
        new PipelineError(
          `客户 ${accountId} 尚未同步到金蝶，且 flows.accountToCustomer 未启用 / account ${accountId} is not in K3Cloud yet and flows.accountToCustomer is not enabled`,
          { kind: 'business', fault: 'ours', code: 'CUSTOMER_NOT_SYNCED' },
        ),
      );
    }
    return numbers;
  }
  // The accounts must be at least as new as the order events that need them.
  const reads = await runtime.reader().read(
    ACCOUNT_API_NAME,
    missing.map((accountId) => ({
      id: accountId,
      notBeforeMs: firstOrderOf.get(accountId)?.notBeforeMs ?? 0,
    })),
  );
  const inputs = missing.flatMap((accountId) => {
    const read = reads.get(accountId);
    const group = firstOrderOf.get(accountId);
    if (!read?.found || !group) {
      errors.set(
        accountId,
        new PipelineError(
          `订单的客户 ${accountId} 在纷享销客中不存在或不可见 / the order's account ${accountId} does not exist or is not visible in Fxiaoke`,
          { kind: 'business', fault: 'caller', code: 'ORDER_ACCOUNT_NOT_FOUND' },
        ),
      );
      return [];
    }
    return [
      {
        account: { record: read.record, details: read.details },
        // Stable across retries of the order's message; distinct from the account queue's owners.
        owner: `dep:${group.owner}:${accountId}`,
        correlationId: group.correlationId,
        inboxMessageIds: [],
      },
    ];
  });
  logger.info('sync.order.customer-dependency', { accounts: inputs.length });
  const outcomes = await syncCustomers(inputs, {
    runtime,
    logger,
    ...(signal ? { callOptions: { signal } } : {}),
  });
  for (const input of inputs) {
    const accountId = input.account.record._id;
    const outcome = outcomes.get(accountId);
    if (!outcome) continue;
    reports.push({
      sqsMessageIds: [],
      result: {
        ...customerResult(
          outcome,
          { inboxMessageIds: [], correlationId: input.correlationId },
          input.account.record.version,
        ),
        reason: `${outcome.reason ?? outcome.outcome} (needed by a sales order)`,
      },
    });
    const number = outcome.erpNumber ?? outcome.link?.erpNumber;
    if (outcome.outcome !== 'failed' && number !== undefined && outcome.link?.state === 'linked') {
      numbers.set(accountId, number);
    } else {
      const cause =
        outcome.error ??
        new PipelineError(
          `客户未同步：${outcome.reason ?? outcome.outcome} / the customer was not synced: ${outcome.reason ?? outcome.outcome}`,
          { kind: 'business', fault: 'caller', code: 'CUSTOMER_NOT_SYNCED' },
        );
      errors.set(accountId, dependencyFailed(`客户 AccountObj ${accountId}`, cause));
    }
  }
  return numbers;
}

/** Every product's material for the batch, with one K3 query; per-product config errors kept apart. */
async function resolveOrderMaterials(
  runtime: SyncRuntime,
  orders: readonly { group: OrderGroup; order: CrmRecordWithDetails }[],
): Promise<{ materials: Map<string, ResolvedMaterial>; productErrors: Map<string, SyncError> }> {
  const config = runtime.config;
  const productErrors = new Map<string, SyncError>();
  const notBefore = new Map<string, number>();
  for (const { group, order } of orders) {
    for (const line of order.details[ORDER_LINE_API_NAME] ?? []) {
      const productId = readCrmString(line, 'product_id');
      if (productId) notBefore.set(productId, Math.max(notBefore.get(productId) ?? 0, group.notBeforeMs));
    }
  }
  const materials = new Map<string, ResolvedMaterial>();
  if (notBefore.size === 0) return { materials, productErrors };
  const reads = await runtime.reader().read(
    'ProductObj',
    [...notBefore].map(([id, notBeforeMs]) => ({ id, notBeforeMs })),
  );
  const products: CrmRecord[] = [];
  const numbers: string[] = [];
  for (const read of reads.values()) {
    if (!read.found) continue;
    try {
      const named = materialOfProduct(read.record, config);
      products.push(read.record);
      if (named) numbers.push(named.number);
    } catch (error) {
      productErrors.set(read.record._id, asSyncError(error));
    }
  }
  if (numbers.length === 0) return { materials, productErrors };
  const query = buildMaterialQuery(config, numbers);
  const erpMaterials = parseMaterialRows(query, await queryRawRows(runtime.k3(), query));
  for (const product of products) {
    try {
      // One product at a time, so one product's unit problem does not fail the others' orders.
      const { materials: resolved } = resolveMaterials([product], config, erpMaterials);
      for (const [id, material] of resolved) materials.set(id, material);
    } catch (error) {
      if (!(error instanceof MappingError)) throw error;
      productErrors.set(product._id, error);
    }
  }
  return { materials, productErrors };
}

/**
 * Flow 5, `delivery-to-fxiaoke` (scheduled): ERP delivery bills (销售出库单 SAL_OUTSTOCK and/or 发货通知单
 * SAL_DELIVERYNOTICE) changed since the cursor become CRM delivery notes (DeliveryNoteObj + lines), and each
 * affected CRM order gets its delivery status (unshipped / partial / shipped).
 *
 * Primary course, per source form, page by page (ExecuteBillQuery on `FModifyDate` with the overlap window,
 * `FModifyDate, FID` keyset; a bill cut by the page end is re-read whole on the next page):
 * 1. Find the CRM order of every sales order number on the page: the link table (order flow), else the
 *    CRM field the order flow writes the number back to. Lines of orders the CRM does not know are skipped.
 * 2. Read those orders with their lines, the CRM products of the page's materials, and the notes that exist
 *    for the page's bills (by the external key field) — a few query calls per page, not per bill.
 * 3. Per (bill, order): claim its link; skip a version already synced or an unchanged content hash;
 *    otherwise update the note found by the external key, or create it. Fxiaoke creates are not idempotent:
 *    the lookup-before-create, the claim, and a lost create keeping its claim keep it to one note.
 * 4. Per affected order: ordered vs delivered quantities from K3 → status → queued CRM write-back.
 * 5. Move the form's cursor past the bills fully processed, stopping at the first one that must be
 *    retried (business failures are final for that version of the bill and do not hold the cursor).
 *
 * CRM writes carry `triggerWorkFlow: false`, so they do not come back as change events.
 */
import { asSyncError, type SyncError } from '../errors.ts';
import type { Filter } from '../fxiaoke/query.ts';
import type { CrmRecord, CrmRecordWithDetails } from '../fxiaoke/records.ts';
import { readCrmString } from '../fxiaoke/records.ts';
import type { Logger } from '../log.ts';
import { type DeliverySourceForm, requireFlow } from '../mappings/config.ts';
import {
  buildDeliveredQuantitiesQuery,
  buildDeliveryQuery,
  buildOrderedQuantitiesQuery,
  buildOrderStatusUpdate,
  type DeliveryBill,
  type DeliveryPage,
  deliveryOrderNumbers,
  deriveDeliveryStatus,
  type ExistingDeliveryNote,
  mapDeliveryBillToNote,
  parseQuantityRows,
  readDeliveryPage,
} from '../mappings/delivery-to-fxiaoke.ts';
import { toQueryInput } from '../mappings/k3-client-inputs.ts';
import { SALE_ORDER_FORM_ID } from '../mappings/sales-order-to-sale-order.ts';
import { classifyChange, type LinkKey } from '../state/links.ts';
import { writeSyncLog } from './batch.ts';
import { flowEnabled } from './crm-to-erp.ts';
import { recordBusy } from './errors.ts';
import { mapLimited } from './k3-batch.ts';
import { queryRawRows } from './k3-query.ts';
import { type OutgoingMessage, writeBackMessage } from './messages.ts';
import { dispositionOf, type SyncResult } from './outcome.ts';
import type { SyncRuntime } from './runtime.ts';
import { countItem, emptySummary, epochMsToK3Text, k3TextToEpochMs, type RunSummary } from './scheduled.ts';

export const DELIVERY_FLOW = 'delivery-to-fxiaoke';
const MAX_PAGES_PER_RUN = 20;
/** CRM query page size (spec §4.1: limit ≤ 100). */
const CRM_IN_LIMIT = 100;

export interface DeliveryRunOptions {
  /** Stop starting new pages after this instant (epoch ms). */
  deadlineMs?: number;
}

/** The cursor of one source form. */
export function deliveryCursorName(formId: DeliverySourceForm): string {
  return `${DELIVERY_FLOW}.${formId}`;
}

/**
 * One scheduled run over every configured source form (see the module comment).
 *
 * @throws {SyncError} when a page cannot be listed or the CRM lookups of a page fail (the cursor stays; the
 *   schedule's error alarm sees it).
 */
export async function runDeliveryToFxiaoke(
  runtime: SyncRuntime,
  options: DeliveryRunOptions = {},
): Promise<RunSummary> {
  const summary = emptySummary(DELIVERY_FLOW, 'schedule');
  const logger = runtime.logger.child({ flow: DELIVERY_FLOW });
  if (!flowEnabled(runtime.config, 'deliveryToFxiaoke')) {
    countItem(summary, DELIVERY_FLOW, 'skipped', 'flow disabled');
    return summary;
  }
  const flow = requireFlow(runtime.config, 'deliveryToFxiaoke');
  for (const formId of flow.sourceForms) {
    const complete = await runForm(runtime, formId, summary, logger, options);
    if (!complete) summary.incomplete = true;
  }
  logger.info('sync.run.done', { ...summary, items: undefined });
  return summary;
}

async function runForm(
  runtime: SyncRuntime,
  formId: DeliverySourceForm,
  summary: RunSummary,
  logger: Logger,
  options: DeliveryRunOptions,
): Promise<boolean> {
  const config = runtime.config;
  const offset = config.erp.utcOffsetMinutes;
  const cursorName = deliveryCursorName(formId);
  const runId = `${DELIVERY_FLOW}:${formId}:${runtime.clock()}`;
  const stored = await runtime.state.cursors.get(cursorName);
  let page: DeliveryPage = stored ? { since: epochMsToK3Text(stored.watermark.modifiedAtMs, offset) } : {};
  for (let n = 0; n < MAX_PAGES_PER_RUN; n += 1) {
    if (options.deadlineMs !== undefined && runtime.clock() > options.deadlineMs) return false;
    const query = buildDeliveryQuery(config, formId, page);
    const read = readDeliveryPage(config, query, await runtime.k3().executeBillQuery(toQueryInput(query)));
    const results = await processBills(runtime, read.bills, runId, logger);

    // Log; the cursor moves past the leading run of bills without a retryable failure.
    let last: DeliveryBill | undefined;
    let blocked = false;
    for (const bill of read.bills) {
      const billResults = results.get(bill.fid) ?? [];
      for (const result of billResults) {
        const retry = dispositionOf(result) === 'retry';
        await writeSyncLog(
          runtime,
          logger,
          retry ? { ...result, reason: 'will be retried by the next run / 下次运行时重试' } : result,
          { attempt: 1, durationMs: 0 },
        );
        countItem(summary, `${bill.billNo}`, result.outcome, result.error?.message ?? result.reason);
        if (retry) blocked = true;
      }
      if (!blocked) last = bill;
    }
    if (last) {
      const modifiedAtMs = k3TextToEpochMs(last.modifyDate, offset);
      if (modifiedAtMs !== undefined) {
        await runtime.state.cursors.advance(cursorName, { modifiedAtMs, id: String(last.fid) }, { runId });
      }
    }
    if (blocked) return false;
    if (read.next === undefined) return true;
    page = read.next;
  }
  return false;
}

/** What a page needs from the CRM, read with a few batched calls. */
interface PageRefs {
  /** ERP sales order number → CRM order (with lines). */
  orders: Map<string, CrmRecordWithDetails>;
  /** ERP material number → CRM ProductObj `_id`. */
  productIds: Map<string, string>;
  /** `<bill number>\u0000<CRM order id>` → existing note. */
  notes: Map<string, ExistingDeliveryNote>;
}

async function loadPageRefs(runtime: SyncRuntime, bills: readonly DeliveryBill[]): Promise<PageRefs> {
  const config = runtime.config;
  const flow = requireFlow(config, 'deliveryToFxiaoke');
  const fx = runtime.fx();
  const orderNumbers = [...new Set(bills.flatMap((bill) => deliveryOrderNumbers(bill)))];

  // ERP order number → CRM order id: the order flow's links first (GSI), then the written-back number.
  const crmIdOf = new Map<string, string>();
  await mapLimited(orderNumbers, 8, async (number) => {
    const links = await runtime.state.links.findByErpNumber(SALE_ORDER_FORM_ID, number);
    const link = links.find((l) => l.origin === 'crm' && l.apiName === 'SalesOrderObj' && l.crmId);
    if (link?.crmId) crmIdOf.set(number, link.crmId);
  });
  const writeBackField = config.flows.salesOrderToSaleOrder?.writeBack?.crmField;
  const unresolved = orderNumbers.filter((n) => !crmIdOf.has(n));
  if (writeBackField && unresolved.length > 0) {
    for (let start = 0; start < unresolved.length; start += CRM_IN_LIMIT) {
      const part = unresolved.slice(start, start + CRM_IN_LIMIT);
      for await (const order of fx.queryAll('SalesOrderObj', {
        filters: [{ field: writeBackField, operator: 'IN', values: part }],
      })) {
        const number = readCrmString(order, writeBackField);
        if (number && !crmIdOf.has(number)) crmIdOf.set(number, order._id);
      }
    }
  }
  const withDetails = await fx.getManyWithDetails('SalesOrderObj', [...new Set(crmIdOf.values())]);
  const orders = new Map<string, CrmRecordWithDetails>();
  for (const [number, id] of crmIdOf) {
    const order = withDetails.get(id);
    if (order) orders.set(number, order);
  }

  // ERP material → CRM product, by the same fields the order flow names materials with.
  const material = config.flows.salesOrderToSaleOrder?.material ?? { crmField: 'product_code' };
  const materialNumbers = [
    ...new Set(bills.flatMap((bill) => bill.lines.flatMap((line) => line.materialNumber ?? []))),
  ];
  const productIds = new Map<string, string>();
  const fields = [material.overrideField, material.crmField].filter((f): f is string => f !== undefined);
  const products = new Map<string, CrmRecord>();
  for (const field of fields) {
    for (let start = 0; start < materialNumbers.length; start += CRM_IN_LIMIT) {
      const part = materialNumbers.slice(start, start + CRM_IN_LIMIT);
      for await (const product of fx.queryAll('ProductObj', {
        filters: [{ field, operator: 'IN', values: part }],
      })) {
        products.set(product._id, product);
      }
    }
  }
  for (const product of products.values()) {
    const override = material.overrideField
      ? readCrmString(product, material.overrideField)?.trim()
      : undefined;
    const number = override || readCrmString(product, material.crmField)?.trim();
    if (number && !productIds.has(number)) productIds.set(number, product._id);
  }

  // Existing notes of the page's bills (the external key), with their lines.
  const billNumbers = [...new Set(bills.map((bill) => bill.billNo))];
  const noteIds: string[] = [];
  const noteKeyOf = new Map<string, string>();
  for (let start = 0; start < billNumbers.length; start += CRM_IN_LIMIT) {
    const filters: Filter[] = [
      {
        field: flow.note.externalKeyField,
        operator: 'IN',
        values: billNumbers.slice(start, start + CRM_IN_LIMIT),
      },
    ];
    for await (const note of fx.queryAll(flow.note.objectApiName, { filters })) {
      const billNo = readCrmString(note, flow.note.externalKeyField);
      const orderId = readCrmString(note, flow.note.orderField);
      if (!billNo || !orderId) continue;
      noteIds.push(note._id);
      noteKeyOf.set(note._id, `${billNo}\u0000${orderId}`);
    }
  }
  const notes = new Map<string, ExistingDeliveryNote>();
  if (noteIds.length > 0) {
    const withLines = await fx.getManyWithDetails(flow.note.objectApiName, noteIds, [
      { apiName: flow.noteLine.detailApiName, masterField: 'delivery_note_id' },
    ]);
    for (const [id, note] of withLines) {
      const key = noteKeyOf.get(id);
      if (key !== undefined && !notes.has(key)) {
        notes.set(key, { id, lines: note.details[flow.noteLine.detailApiName] ?? [] });
      }
    }
  }
  return { orders, productIds, notes };
}

/** Sync the bills of one page; results by bill FID (one per order the bill delivers). */
async function processBills(
  runtime: SyncRuntime,
  bills: readonly DeliveryBill[],
  runId: string,
  logger: Logger,
): Promise<Map<number, SyncResult[]>> {
  const results = new Map<number, SyncResult[]>();
  if (bills.length === 0) return results;
  const config = runtime.config;
  const flow = requireFlow(config, 'deliveryToFxiaoke');
  const refs = await loadPageRefs(runtime, bills);
  const fx = runtime.fx();
  const links = runtime.state.links;
  const offset = config.erp.utcOffsetMinutes;
  const affected = new Map<string, CrmRecordWithDetails>();

  const work = bills.flatMap((bill): { bill: DeliveryBill; orderNo: string | undefined }[] => {
    const numbers = deliveryOrderNumbers(bill);
    return numbers.length === 0
      ? [{ bill, orderNo: undefined }]
      : numbers.map((orderNo) => ({ bill, orderNo }));
  });
  const done = await mapLimited(
    work,
    4,
    async ({ bill, orderNo }): Promise<{ fid: number; result: SyncResult }> => {
      const base = {
        flow: DELIVERY_FLOW,
        source: { system: 'erp' as const, type: bill.formId, id: String(bill.fid) },
        correlationId: runId,
        sourceVersion: k3TextToEpochMs(bill.modifyDate, offset),
      };
      if (orderNo === undefined) {
        return {
          fid: bill.fid,
          result: { ...base, outcome: 'skipped', reason: 'no sales order number on the bill' },
        };
      }
      const order = refs.orders.get(orderNo);
      if (!order) {
        return {
          fid: bill.fid,
          result: { ...base, outcome: 'skipped', reason: `sales order ${orderNo} is not known to the CRM` },
        };
      }
      const noteKey = `${bill.billNo}\u0000${order.record._id}`;
      const existing = refs.notes.get(noteKey);
      let mapping: ReturnType<typeof mapDeliveryBillToNote>;
      try {
        mapping = mapDeliveryBillToNote(
          bill,
          orderNo,
          config,
          {
            order: order.record,
            orderLines: order.details.SalesOrderProductObj ?? [],
            productIds: refs.productIds,
          },
          existing ? { existing } : {},
        );
      } catch (error) {
        return { fid: bill.fid, result: { ...base, outcome: 'failed', error: asSyncError(error) } };
      }
      if (mapping.action === 'skip') {
        return {
          fid: bill.fid,
          result: { ...base, outcome: 'skipped', reason: `${mapping.reason}: ${mapping.en}` },
        };
      }
      // One link per (bill, order): a bill delivering several orders becomes one note per order.
      const key: LinkKey = {
        origin: 'erp',
        formId: bill.formId,
        erpId: `${bill.fid}:${orderNo}`,
        apiName: flow.note.objectApiName,
      };
      const owner = `${runId}:${bill.fid}:${orderNo}`;
      const version = base.sourceVersion ?? 0;
      const claim = await links.claim(key, { owner });
      if (claim.status === 'busy') {
        return {
          fid: bill.fid,
          result: {
            ...base,
            outcome: 'failed',
            error: recordBusy(`${bill.formId} ${bill.billNo}`, claim.holder.untilMs - runtime.clock()),
          },
        };
      }
      const decision = classifyChange(claim.link, { version, contentHash: mapping.contentHash });
      if (decision.action === 'skip' && (decision.reason !== 'unchanged' || !existing)) {
        await links.release(key, owner);
        affected.set(order.record._id, order);
        return { fid: bill.fid, result: { ...base, outcome: 'skipped', reason: decision.reason } };
      }
      const { dataObjectApiName, _id, ...fields } = mapping.objectData;
      let noteId = existing?.id;
      let keepClaim = false;
      const operations: string[] = [];
      try {
        if (decision.action !== 'skip') {
          if (existing) {
            await fx.update(dataObjectApiName, existing.id, fields, {
              details: mapping.details,
              triggerWorkFlow: false,
            });
            operations.push('update');
          } else {
            noteId = (
              await fx.create(dataObjectApiName, fields, { details: mapping.details, triggerWorkFlow: false })
            ).dataId;
            operations.push('create');
          }
        }
        if (noteId === undefined) throw new Error('no note id after create');
        await links.recordSynced(key, {
          owner,
          crmId: noteId,
          erpNumber: bill.billNo,
          version,
          contentHash: mapping.contentHash,
          correlationId: runId,
          relink: true,
        });
        affected.set(order.record._id, order);
        logger.info('sync.delivery.note', { billNo: bill.billNo, orderNo, noteId, operations });
        return {
          fid: bill.fid,
          result: {
            ...base,
            outcome: decision.action === 'skip' ? 'skipped' : 'succeeded',
            reason: decision.action === 'skip' ? 'unchanged' : operations.join(', '),
            operations,
            target: { system: 'crm', type: dataObjectApiName, ids: [noteId] },
          },
        };
      } catch (error) {
        const failure = asSyncError(error);
        // A lost create may have created the note: keep the claim; the next run finds it by its key.
        keepClaim = failure.kind === 'outcome-unknown';
        return { fid: bill.fid, result: { ...base, outcome: 'failed', error: failure, operations } };
      } finally {
        if (keepClaim) logger.warn('sync.delivery.outcome-unknown', { billNo: bill.billNo, orderNo });
        else await links.release(key, owner).catch(() => false);
      }
    },
  );
  for (const { fid, result } of done) results.set(fid, [...(results.get(fid) ?? []), result]);

  // 4. Delivery status of every affected order, queued as CRM write-backs.
  if (flow.orderStatus && affected.size > 0) {
    const k3 = runtime.k3();
    const statusErrors = new Map<string, SyncError>();
    const messages: OutgoingMessage[] = [];
    for (const [orderId, order] of affected) {
      const orderNo = [...refs.orders].find(([, o]) => o.record._id === orderId)?.[0];
      if (!orderNo) continue;
      try {
        const ordered = buildOrderedQuantitiesQuery(orderNo);
        const delivered = buildDeliveredQuantitiesQuery(config, orderNo);
        const status = deriveDeliveryStatus(
          parseQuantityRows(ordered, await queryRawRows(k3, ordered)),
          parseQuantityRows(delivered, await queryRawRows(k3, delivered)),
        );
        const update = buildOrderStatusUpdate(order.record, status.status, config);
        if (!update) continue;
        const { dataObjectApiName, _id, ...fields } = update;
        messages.push(
          writeBackMessage({
            kind: 'write-back',
            apiName: dataObjectApiName,
            id: _id ?? orderId,
            fields,
            flow: DELIVERY_FLOW,
            reason: 'delivery-status',
            requestedAtMs: runtime.clock(),
          }),
        );
      } catch (error) {
        statusErrors.set(orderNo, asSyncError(error));
      }
    }
    try {
      if (messages.length > 0) await runtime.queues.send('crmWriteBack', messages);
    } catch (error) {
      for (const [orderNo] of refs.orders) statusErrors.set(orderNo, asSyncError(error));
    }
    // A status that could not be derived or queued holds the bills of that order for the next run.
    for (const bill of bills) {
      for (const orderNo of deliveryOrderNumbers(bill)) {
        const error = statusErrors.get(orderNo);
        if (!error) continue;
        results.set(bill.fid, [
          ...(results.get(bill.fid) ?? []),
          {
            flow: DELIVERY_FLOW,
            source: { system: 'erp', type: bill.formId, id: String(bill.fid) },
            outcome: 'failed',
            reason: `delivery status of order ${orderNo}`,
            error,
            correlationId: runId,
          },
        ]);
      }
    }
  }
  return results;
}

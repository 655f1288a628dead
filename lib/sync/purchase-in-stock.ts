/**
 * Flow 4, `purchase-order-to-in-stock`: audited K3 purchase orders are pushed (下推) to purchase in-stock
 * bills (PUR_PurchaseOrder → STK_InStock, rule `PUR_PurchaseOrder-STK_InStock`), optionally submitted and
 * audited — on a schedule (orders modified since the cursor, minus the overlap window) and on request
 * (a direct invoke with bill numbers, authorised by IAM `lambda:InvokeFunction`).
 *
 * Primary course of one run, page by page (`FModifyDate, FID` keyset):
 * 1. List the candidate orders (audited, configured organisations and bill types, the requested numbers).
 * 2. One query for the page: in-stock bills whose source bill number (`FSrcBillNo`) is one of the orders —
 *    an order that has one is done (an earlier Push whose answer was lost, or the warehouse's own bill).
 * 3. For each other order: claim it (one worker per order, so a request and a scheduled run never push the
 *    same order twice), Push, optionally Submit + Audit, release. K3's "already fully pushed" is done too.
 * 4. Log every order in the sync log; move the cursor past the orders handled in scan order, stopping at
 *    the first one that must be retried.
 */
import { asSyncError, type SyncError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { requireFlow } from '../mappings/config.ts';
import { toPushInput, toQueryInput } from '../mappings/k3-client-inputs.ts';
import { buildBillQuery, cellText, k3In } from '../mappings/k3-requests.ts';
import {
  buildInStockPush,
  buildPurchaseOrderQuery,
  PURCHASE_ORDER_FORM_ID,
  type PurchaseOrderCandidate,
  parsePurchaseOrderRows,
} from '../mappings/purchase-order-to-in-stock.ts';
import type { LinkKey } from '../state/links.ts';
import { writeSyncLog } from './batch.ts';
import { flowEnabled } from './crm-to-erp.ts';
import { isFullyPushed } from './delivery-notices.ts';
import { recordBusy } from './errors.ts';
import { mapLimited } from './k3-batch.ts';
import { queryRows } from './k3-query.ts';
import { dispositionOf, type SyncResult } from './outcome.ts';
import type { SyncRuntime } from './runtime.ts';
import { countItem, emptySummary, epochMsToK3Text, k3TextToEpochMs, type RunSummary } from './scheduled.ts';

export const PURCHASE_FLOW = 'purchase-order-to-in-stock';
/** Pages per run: a run stays well inside the function timeout; the next run continues from the cursor. */
const MAX_PAGES_PER_RUN = 20;
/** Pushes sent at once. */
const CONCURRENCY = 4;

export interface PurchaseRunOptions {
  /** On request: exactly these purchase order numbers (still only audited ones of the configured scope). */
  billNos?: readonly string[];
  /** Stop starting new pages after this instant (epoch ms), e.g. shortly before the Lambda's deadline. */
  deadlineMs?: number;
}

/**
 * One run (see the module comment).
 *
 * @throws {SyncError} when the run cannot start or a page cannot be listed (the schedule's error metric
 *   and alarm see it; the cursor is untouched and the next run starts over).
 */
export async function runPurchaseOrderToInStock(
  runtime: SyncRuntime,
  options: PurchaseRunOptions = {},
): Promise<RunSummary> {
  const trigger = options.billNos ? 'request' : 'schedule';
  const summary = emptySummary(PURCHASE_FLOW, trigger);
  const logger = runtime.logger.child({ flow: PURCHASE_FLOW, trigger });
  const config = runtime.config;
  if (!flowEnabled(config, 'purchaseOrderToInStock')) {
    countItem(summary, PURCHASE_FLOW, 'skipped', 'flow disabled');
    return summary;
  }
  const flow = requireFlow(config, 'purchaseOrderToInStock');
  const offset = config.erp.utcOffsetMinutes;
  const k3 = runtime.k3();
  const runId = `${PURCHASE_FLOW}:${runtime.clock()}`;
  const cursor = trigger === 'schedule' ? await runtime.state.cursors.get(PURCHASE_FLOW) : undefined;
  const modifiedSince = cursor ? epochMsToK3Text(cursor.watermark.modifiedAtMs, offset) : undefined;
  const targetOrgId = flow.targetOrgNumber
    ? (await runtime.orgIds([flow.targetOrgNumber])).get(flow.targetOrgNumber)
    : undefined;
  const seen = new Set<string>();

  let after: { modifyDate: string; fid: number } | undefined;
  for (let page = 0; page < MAX_PAGES_PER_RUN; page += 1) {
    if (options.deadlineMs !== undefined && runtime.clock() > options.deadlineMs) {
      summary.incomplete = true;
      break;
    }
    // 1. One page of candidates.
    const query = buildPurchaseOrderQuery(config, {
      ...(options.billNos ? { billNos: options.billNos } : {}),
      ...(modifiedSince === undefined ? {} : { modifiedSince }),
      ...(after === undefined ? {} : { after }),
    });
    const listed = parsePurchaseOrderRows(query, await k3.executeBillQuery(toQueryInput(query)));
    for (const order of listed.orders) seen.add(order.billNo);

    // 2. Orders that already have an in-stock bill.
    const pushedAlready = new Set<string>();
    if (listed.orders.length > 0) {
      const inStock = buildBillQuery(
        flow.targetFormId,
        ['FID', 'FBillNo', 'FSrcBillNo'],
        k3In(
          'FSrcBillNo',
          listed.orders.map((o) => o.billNo),
        ),
        { limit: 2000, orderBy: 'FID ASC' },
      );
      for (const row of await queryRows(k3, inStock)) {
        const source = cellText(row, 'FSrcBillNo');
        if (source !== undefined) pushedAlready.add(source);
      }
    }

    // 3. Push the others.
    const results = await mapLimited(listed.orders, CONCURRENCY, async (order) =>
      pushedAlready.has(order.billNo)
        ? result(order, runId, 'skipped', { reason: 'already has an in-stock bill / 已有入库单' })
        : await pushOne(runtime, order, runId, targetOrgId, logger),
    );

    // 4. Log; the cursor moves past the leading run of final results.
    let last: PurchaseOrderCandidate | undefined;
    let blocked = false;
    for (const [index, entry] of results.entries()) {
      const order = listed.orders[index];
      if (!order) continue;
      const retry = dispositionOf(entry) === 'retry';
      await writeSyncLog(
        runtime,
        logger,
        retry ? { ...entry, reason: 'will be retried by the next run / 下次运行时重试' } : entry,
        { attempt: 1, durationMs: 0 },
      );
      countItem(summary, order.billNo, entry.outcome, entry.error?.message ?? entry.reason);
      if (retry) blocked = true;
      if (!blocked) last = order;
    }
    if (trigger === 'schedule' && last?.modifyDate !== undefined) {
      const modifiedAtMs = k3TextToEpochMs(last.modifyDate, offset);
      if (modifiedAtMs !== undefined) {
        await runtime.state.cursors.advance(PURCHASE_FLOW, { modifiedAtMs, id: String(last.fid) }, { runId });
      }
    }
    if (blocked) {
      summary.incomplete = true;
      break;
    }
    if (!listed.more || listed.cursor === undefined) break;
    after = listed.cursor;
    if (page === MAX_PAGES_PER_RUN - 1) summary.incomplete = true;
  }
  for (const billNo of options.billNos ?? []) {
    if (!seen.has(billNo)) {
      countItem(
        summary,
        billNo,
        'skipped',
        'not eligible: not found, not audited, or outside the configured organisations/bill types / 不符合条件',
      );
    }
  }
  logger.info('sync.run.done', { ...summary, items: undefined });
  return summary;
}

function result(
  order: PurchaseOrderCandidate,
  runId: string,
  outcome: SyncResult['outcome'],
  extra: Partial<SyncResult> = {},
): SyncResult {
  return {
    flow: PURCHASE_FLOW,
    source: { system: 'erp', type: PURCHASE_ORDER_FORM_ID, id: String(order.fid) },
    outcome,
    correlationId: runId,
    ...extra,
  };
}

async function pushOne(
  runtime: SyncRuntime,
  order: PurchaseOrderCandidate,
  runId: string,
  targetOrgId: number | undefined,
  logger: Logger,
): Promise<SyncResult> {
  const flow = requireFlow(runtime.config, 'purchaseOrderToInStock');
  const k3 = runtime.k3();
  const links = runtime.state.links;
  // The claim is a mutex only (no link is kept for this ERP → ERP flow: K3's own bills are the record).
  const key: LinkKey = {
    origin: 'erp',
    formId: PURCHASE_ORDER_FORM_ID,
    erpId: String(order.fid),
    apiName: flow.targetFormId,
  };
  const owner = `${runId}:${order.fid}`;
  const claim = await links.claim(key, { owner });
  if (claim.status === 'busy') {
    return result(order, runId, 'failed', {
      error: recordBusy(`${PURCHASE_ORDER_FORM_ID} ${order.billNo}`, claim.holder.untilMs - runtime.clock()),
    });
  }
  const operations: string[] = [];
  let keepClaim = false;
  try {
    const pushed = await k3.push(
      toPushInput(
        PURCHASE_ORDER_FORM_ID,
        buildInStockPush(order.billNo, runtime.config, targetOrgId === undefined ? {} : { targetOrgId }),
      ),
    );
    operations.push('Push');
    const target = pushed.targets.find((t) => t.id !== null);
    let failure: SyncError | undefined;
    if (flow.submitAndAudit && target?.id) {
      try {
        await k3.submit({ formId: flow.targetFormId, ids: [target.id] });
        operations.push('Submit');
        await k3.audit({ formId: flow.targetFormId, ids: [target.id] });
        operations.push('Audit');
      } catch (error) {
        // The in-stock bill exists (and is found by step 2 next time): report, never push again.
        failure = asSyncError(error);
      }
    }
    logger.info('sync.purchase.pushed', { billNo: order.billNo, inStock: target?.number });
    return result(order, runId, failure ? 'failed' : 'succeeded', {
      operations,
      ...(failure ? { error: failure } : { reason: 'pushed' }),
      ...(target?.id
        ? {
            target: {
              system: 'erp' as const,
              type: flow.targetFormId,
              ids: [target.id],
              ...(target.number ? { number: target.number } : {}),
            },
          }
        : {}),
    });
  } catch (error) {
    const failure = asSyncError(error);
    if (isFullyPushed(failure)) {
      return result(order, runId, 'skipped', { reason: 'already fully pushed in K3 / 金蝶中已全部下推' });
    }
    // A lost answer may have created the bill: keep the claim; step 2 finds the bill on the next run.
    keepClaim = failure.kind === 'outcome-unknown';
    return result(order, runId, 'failed', { error: failure, operations });
  } finally {
    if (!keepClaim) await links.release(key, owner).catch(() => false);
  }
}

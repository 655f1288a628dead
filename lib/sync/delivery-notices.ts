/**
 * Flow 3, `sale-order-to-delivery-notice`: a synced CRM order that reached the configured state (the
 * sales order flow checks the trigger and queues a request) is pushed (下推) in K3Cloud from SAL_SaleOrder to
 * a delivery notice (rule `SaleOrder-DeliveryNotice`), optionally submitted and audited.
 *
 * Push is not idempotent, so every order is pushed at most once:
 * 1. An order whose notice link exists is done.
 * 2. Claim the order's notice link (one worker per order).
 * 3. Look up, with one query for the batch, notices whose source bill number (`FSrcBillNo`) is the order:
 *    one found — an earlier Push whose answer was lost, or a notice made by hand — is adopted, not pushed
 *    again.
 * 4. Push; K3's "already fully pushed" answer counts as done (nothing left to deliver).
 * 5. Submit + Audit the new notices in one call each (when configured), record the link.
 */
import { asSyncError, type SyncError } from '../errors.ts';
import { requireFlow } from '../mappings/config.ts';
import { toPushInput } from '../mappings/k3-client-inputs.ts';
import { buildBillQuery, cellId, cellText, k3In } from '../mappings/k3-requests.ts';
import { buildDeliveryNoticePush } from '../mappings/sale-order-to-delivery-notice.ts';
import { SALE_ORDER_FORM_ID } from '../mappings/sales-order-to-sale-order.ts';
import type { BatchContext, QueueRecord, RecordReport } from './batch.ts';
import { crmLinkKey, flowEnabled } from './crm-to-erp.ts';
import { recordBusy } from './errors.ts';
import { mapLimited, runBatched } from './k3-batch.ts';
import { queryRows } from './k3-query.ts';
import type { DeliveryNoticeMessage } from './messages.ts';
import type { SyncResult } from './outcome.ts';
import { NOTICE_FORM_ID, ORDER_API_NAME } from './sales-orders.ts';

export const NOTICE_FLOW = 'sale-order-to-delivery-notice';

/**
 * K3's answer when nothing of the source bill is left to push. The exact wording of real servers is not
 * captured (spec §4.7 [unverified]); the emulator says `源单分录已全部下推，没有可下推的数据！`. Matching any
 * of these fragments in K3's own messages counts the push as done.
 */
export const FULLY_PUSHED_PATTERN = /全部下推|没有可下推|已下推完毕/;

/** Whether a Push failure means "nothing left to push". */
export function isFullyPushed(error: SyncError): boolean {
  return (
    error.kind === 'business' &&
    [error.message, ...error.remoteMessages].some((m) => FULLY_PUSHED_PATTERN.test(m))
  );
}

interface NoticeWork {
  orderId: string;
  version: number;
  sqsMessageIds: string[];
  inboxMessageIds: string[];
  owner: string;
  correlationId: string;
  billNo?: string;
  claimed: boolean;
  noticeId?: string;
  noticeNumber?: string;
  status?: string;
  ops: string[];
  error?: SyncError;
  unknown: boolean;
  result?: SyncResult;
}

/** The delivery-notice queue's batch (see the module comment). */
export async function processDeliveryNoticeRequests(
  records: QueueRecord<DeliveryNoticeMessage>[],
  ctx: BatchContext,
): Promise<RecordReport[]> {
  const { runtime, logger } = ctx;
  const config = runtime.config;
  const links = runtime.state.links;
  const call = ctx.signal ? { signal: ctx.signal } : {};
  const works = new Map<string, NoticeWork>();
  for (const record of records) {
    const body = record.body;
    const work = works.get(body.orderId);
    if (work) {
      work.sqsMessageIds.push(record.sqsMessageId);
      work.version = Math.max(work.version, body.orderVersion);
      if (body.sourceMessageId) work.inboxMessageIds.push(body.sourceMessageId);
    } else {
      works.set(body.orderId, {
        orderId: body.orderId,
        version: body.orderVersion,
        sqsMessageIds: [record.sqsMessageId],
        inboxMessageIds: body.sourceMessageId ? [body.sourceMessageId] : [],
        owner: `sqs:${record.sqsMessageId}`,
        correlationId: record.sqsMessageId,
        claimed: false,
        ops: [],
        unknown: false,
      });
    }
  }
  const all = [...works.values()];
  const result = (work: NoticeWork, outcome: SyncResult['outcome'], extra: Partial<SyncResult> = {}) => {
    work.result = {
      flow: NOTICE_FLOW,
      source: { system: 'crm', type: ORDER_API_NAME, id: work.orderId },
      outcome,
      sourceVersion: work.version,
      correlationId: work.correlationId,
      operations: work.ops,
      ...(work.noticeId
        ? {
            target: {
              system: 'erp' as const,
              type: NOTICE_FORM_ID,
              ids: [work.noticeId],
              ...(work.noticeNumber ? { number: work.noticeNumber } : {}),
            },
          }
        : {}),
      ...extra,
    };
  };
  const reports = () =>
    all.map((work) => ({
      sqsMessageIds: work.sqsMessageIds,
      // The inbox entries belong to the order flow's events; this flow does not close them.
      result: work.result ?? {
        flow: NOTICE_FLOW,
        source: { system: 'crm' as const, type: ORDER_API_NAME, id: work.orderId },
        outcome: 'failed' as const,
        error: work.error ?? asSyncError(new Error('no result')),
        correlationId: work.correlationId,
      },
    }));
  if (!flowEnabled(config, 'saleOrderToDeliveryNotice')) {
    for (const work of all) result(work, 'skipped', { reason: 'flow disabled' });
    return reports();
  }
  const flow = requireFlow(config, 'saleOrderToDeliveryNotice');
  const noticeKey = (orderId: string) => crmLinkKey(ORDER_API_NAME, orderId, NOTICE_FORM_ID);
  const live = () => all.filter((w) => !w.result && !w.error);

  // 1–2. Already done? Claim, and find the ERP order number.
  await mapLimited(all, 8, async (work) => {
    try {
      const orderLink = await links.get(crmLinkKey(ORDER_API_NAME, work.orderId, SALE_ORDER_FORM_ID));
      if (orderLink?.state !== 'linked' || !orderLink.erpNumber) {
        result(work, 'skipped', {
          reason: 'the order is not synced to K3 (no SAL_SaleOrder link); nothing to push',
        });
        return;
      }
      work.billNo = orderLink.erpNumber;
      const claim = await links.claim(noticeKey(work.orderId), { owner: work.owner });
      if (claim.status === 'busy') {
        work.error = recordBusy(`SalesOrderObj ${work.orderId}`, claim.holder.untilMs - runtime.clock());
        return;
      }
      work.claimed = true;
      if (claim.link?.state === 'linked') {
        await links.release(noticeKey(work.orderId), work.owner);
        work.noticeId = claim.link.erpId;
        work.noticeNumber = claim.link.erpNumber;
        result(work, 'skipped', { reason: 'already pushed: the order has its delivery notice' });
      }
    } catch (error) {
      work.error = asSyncError(error);
    }
  });

  const k3 = runtime.k3();
  // 3. One lookup for the batch: notices whose source bill is one of the orders.
  const toFind = live();
  if (toFind.length > 0) {
    try {
      const query = buildBillQuery(
        NOTICE_FORM_ID,
        ['FID', 'FBillNo', 'FDocumentStatus', 'FSrcBillNo'],
        k3In('FSrcBillNo', [...new Set(toFind.flatMap((w) => w.billNo ?? []))]),
        { limit: 2000, orderBy: 'FID ASC' },
      );
      const byOrder = new Map<
        string,
        { id: number; number: string | undefined; status: string | undefined }
      >();
      for (const row of await queryRows(k3, query, call)) {
        const source = cellText(row, 'FSrcBillNo');
        if (source !== undefined && !byOrder.has(source)) {
          byOrder.set(source, {
            id: cellId(row, 'FID', NOTICE_FORM_ID),
            number: cellText(row, 'FBillNo'),
            status: cellText(row, 'FDocumentStatus'),
          });
        }
      }
      for (const work of toFind) {
        const found = work.billNo === undefined ? undefined : byOrder.get(work.billNo);
        if (!found) continue;
        work.noticeId = String(found.id);
        work.noticeNumber = found.number;
        work.status = found.status;
        logger.info('sync.notice.adopted', {
          orderId: work.orderId,
          billNo: work.billNo,
          notice: found.number,
        });
      }
    } catch (error) {
      for (const work of toFind) work.error = asSyncError(error);
    }
  }

  // 4. Push the orders without a notice (one Push per order keeps each order's result its own).
  const targetOrgId = flow.targetOrgNumber
    ? await runtime
        .orgIds([flow.targetOrgNumber])
        .then((ids) => ids.get(flow.targetOrgNumber ?? ''))
        .catch((error: unknown) => {
          for (const work of live()) work.error = asSyncError(error);
          return undefined;
        })
    : undefined;
  await mapLimited(
    live().filter((w) => w.noticeId === undefined),
    4,
    async (work) => {
      const billNo = work.billNo;
      if (billNo === undefined) return;
      try {
        const push = buildDeliveryNoticePush(
          billNo,
          config,
          targetOrgId === undefined ? {} : { targetOrgId },
        );
        const pushed = await k3.push(toPushInput(SALE_ORDER_FORM_ID, push), call);
        work.ops.push('Push');
        const target = pushed.targets.find((t) => t.id !== null);
        if (!target?.id) {
          work.error = asSyncError(new Error(`Push of ${billNo} succeeded without a target bill`));
          return;
        }
        work.noticeId = target.id;
        work.noticeNumber = target.number ?? undefined;
        work.status = 'A';
      } catch (error) {
        const failure = asSyncError(error);
        if (isFullyPushed(failure)) {
          await links.release(noticeKey(work.orderId), work.owner).catch(() => false);
          result(work, 'skipped', {
            reason: 'already fully pushed in K3 (nothing left to push) / 金蝶中已全部下推',
          });
          return;
        }
        work.error = failure;
        if (failure.kind === 'outcome-unknown') work.unknown = true;
      }
    },
  );

  // 5. Submit and audit the notices (one call each for the batch).
  if (flow.submitAndAudit) {
    const submit = live().filter(
      (w) => w.noticeId && (w.status === 'A' || w.status === 'D' || w.status === 'Z'),
    );
    const submitFailures = await runBatched(
      submit.flatMap((w) => w.noticeId ?? []),
      (ids) => k3.submit({ formId: NOTICE_FORM_ID, ids }, call),
    );
    for (const work of submit) {
      const error = submitFailures.get(work.noticeId ?? '');
      if (error) work.error = error;
      else {
        work.status = 'B';
        work.ops.push('Submit');
      }
    }
    const audit = live().filter((w) => w.noticeId && w.status === 'B');
    const auditFailures = await runBatched(
      audit.flatMap((w) => w.noticeId ?? []),
      (ids) => k3.audit({ formId: NOTICE_FORM_ID, ids }, call),
    );
    for (const work of audit) {
      const error = auditFailures.get(work.noticeId ?? '');
      if (error) work.error = error;
      else {
        work.status = 'C';
        work.ops.push('Audit');
      }
    }
  }

  // 6. Links.
  await mapLimited(all, 8, async (work) => {
    if (work.result) return;
    try {
      if (work.noticeId !== undefined) {
        // The notice exists: record it even when Submit/Audit failed, so it is never pushed twice.
        await links.recordSynced(noticeKey(work.orderId), {
          owner: work.owner,
          erpId: work.noticeId,
          ...(work.noticeNumber ? { erpNumber: work.noticeNumber } : {}),
          version: work.version,
          allowSameVersion: true,
          correlationId: work.correlationId,
        });
      } else if (work.claimed && !work.unknown) {
        await links.release(noticeKey(work.orderId), work.owner);
      }
    } catch (error) {
      work.error ??= asSyncError(error);
    }
    if (work.error) result(work, 'failed', { error: work.error });
    else
      result(work, 'succeeded', { reason: work.ops.includes('Push') ? 'pushed' : 'adopted existing notice' });
  });
  return reports();
}

/**
 * Synthetic change events (backfill, replay) take the path of a pushed change through the webhook —
 * recorded in the inbox by messageId, queued to the owning flow's FIFO queue (group `apiName:dataId`,
 * deduplication id = messageId) — so the flows treat them exactly like pushes:
 *
 * - the inbox lists each event's pending re-read, so the coalescing reader fills one Fxiaoke call with up to
 *   100 of them (a 3 000-record backfill costs ~30 query calls, not 300);
 * - the batch marks the inbox entries processed or failed, as for pushes.
 *
 * Unlike the webhook (which saves that write per push), the CLI also marks each event queued: a messageId the
 * inbox then knows as queued or done is not sent again (`duplicate`), so a re-run of the same backfill or
 * replay enqueues nothing twice for the inbox's retention (7 days) — not only within SQS's 5-minute
 * deduplication window — and an event recorded but not confirmed queued (`unqueued`, a run interrupted
 * between the two) is sent again.
 */
import { mapLimited } from '../lib/sync/k3-batch.ts';
import { changeMessage } from '../lib/sync/messages.ts';
import type { QueueRole } from '../lib/sync/queues.ts';
import type { SyncRuntime } from '../lib/sync/runtime.ts';

/** Inbox writes sent at once. */
const INBOX_CONCURRENCY = 8;

export interface SyntheticChange {
  apiName: string;
  dataId: string;
  /** Unique per record and per run: `backfill:<run>:<apiName>:<id>`, `replay:<run>:<apiName>:<id>`. */
  messageId: string;
  changedAtMs?: number | undefined;
}

export interface EnqueueResult {
  /** messageIds sent now. */
  queued: string[];
  /** messageIds the inbox already had as queued (a re-run): not sent again. */
  alreadyQueued: string[];
}

/**
 * Record and queue `changes` for the flow behind `role`.
 *
 * @throws {StateError} when the inbox fails; {@link QueueError} when SQS fails (nothing of the failed send
 *   is marked queued, so a re-run sends it again).
 */
export async function enqueueChanges(
  runtime: SyncRuntime,
  role: QueueRole,
  changes: readonly SyntheticChange[],
  via: 'backfill' | 'replay',
): Promise<EnqueueResult> {
  const receipts = await mapLimited(changes, INBOX_CONCURRENCY, async (change) => ({
    change,
    receipt: await runtime.state.inbox.recordIfNew({
      messageId: change.messageId,
      apiName: change.apiName,
      dataId: change.dataId,
      eventType: via,
      via,
      ...(change.changedAtMs === undefined ? {} : { changedAtMs: change.changedAtMs }),
    }),
  }));
  const toSend = receipts.filter((r) => r.receipt !== 'duplicate').map((r) => r.change);
  const alreadyQueued = receipts.filter((r) => r.receipt === 'duplicate').map((r) => r.change.messageId);
  if (toSend.length === 0) return { queued: [], alreadyQueued };
  const receivedAtMs = runtime.clock();
  const sqsIds = await runtime.queues.send(
    role,
    toSend.map((change) =>
      changeMessage({
        kind: 'change',
        messageId: change.messageId,
        apiName: change.apiName,
        dataId: change.dataId,
        eventType: via,
        receivedAtMs,
        ...(change.changedAtMs === undefined ? {} : { changedAtMs: change.changedAtMs }),
        via,
      }),
    ),
  );
  await mapLimited(toSend, INBOX_CONCURRENCY, async (change, index) => {
    const queueMessageId = sqsIds[index];
    await runtime.state.inbox.markQueued(change.messageId, queueMessageId ? { queueMessageId } : {});
  });
  return { queued: toSend.map((change) => change.messageId), alreadyQueued };
}

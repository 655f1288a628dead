/**
 * The CRM write-back queue: ERP numbers and delivery statuses written back to Fxiaoke records, drained at
 * the rate Fxiaoke allows (the shared limiter: 100 updates / 20 s across every copy), so a burst of ERP
 * writes never waits for CRM updates and never exceeds the CRM's budget.
 *
 * Every update goes out with `triggerWorkFlow: false` (the runtime's client default), so it does not fire
 * CRM workflows — nor an APL push hung on them — and cannot echo back as a new change event. Updates are
 * idempotent (they set fields to values), so a retry after a lost response is safe. Several write-backs of
 * one record in a batch are merged into one update, in queue order.
 */
import { asSyncError, type SyncError } from '../errors.ts';
import type { BatchContext, QueueRecord, RecordReport } from './batch.ts';
import { mapLimited } from './k3-batch.ts';
import type { WriteBackMessage } from './messages.ts';

export const WRITE_BACK_FLOW = 'crm-write-back';

/** Updates in flight at once per invocation; the shared limiter paces them anyway. */
const CONCURRENCY = 4;

/** The write-back queue's batch: one CRM update per record. */
export async function processWriteBacks(
  records: QueueRecord<WriteBackMessage>[],
  ctx: BatchContext,
): Promise<RecordReport[]> {
  const fx = ctx.runtime.fx();
  const byRecord = new Map<
    string,
    {
      apiName: string;
      id: string;
      fields: Record<string, unknown>;
      flows: Set<string>;
      reasons: Set<string>;
      sqsMessageIds: string[];
    }
  >();
  for (const record of records) {
    const body = record.body;
    const key = `${body.apiName}:${body.id}`;
    const entry = byRecord.get(key) ?? {
      apiName: body.apiName,
      id: body.id,
      fields: {},
      flows: new Set<string>(),
      reasons: new Set<string>(),
      sqsMessageIds: [],
    };
    Object.assign(entry.fields, body.fields);
    entry.flows.add(body.flow);
    entry.reasons.add(body.reason);
    entry.sqsMessageIds.push(record.sqsMessageId);
    byRecord.set(key, entry);
  }
  return await mapLimited([...byRecord.values()], CONCURRENCY, async (entry): Promise<RecordReport> => {
    const base = {
      flow: WRITE_BACK_FLOW,
      source: { system: 'crm' as const, type: entry.apiName, id: entry.id },
      target: { system: 'crm' as const, type: entry.apiName, ids: [entry.id] },
      correlationId: entry.sqsMessageIds[0] ?? entry.id,
      operations: ['update'],
    };
    try {
      await fx.update(entry.apiName, entry.id, entry.fields, { triggerWorkFlow: false });
      return {
        sqsMessageIds: entry.sqsMessageIds,
        result: {
          ...base,
          outcome: 'succeeded',
          reason: `${[...entry.reasons].join(', ')} from ${[...entry.flows].join(', ')}: ${Object.keys(entry.fields).join(', ')}`,
        },
      };
    } catch (error) {
      const failure: SyncError = asSyncError(error);
      if (failure.kind === 'not-found') {
        return {
          sqsMessageIds: entry.sqsMessageIds,
          result: { ...base, outcome: 'skipped', reason: 'not-found: the CRM record no longer exists' },
        };
      }
      return { sqsMessageIds: entry.sqsMessageIds, result: { ...base, outcome: 'failed', error: failure } };
    }
  });
}

/**
 * Flow 1, `account-to-customer`: CRM accounts (AccountObj) become K3 customers (BD_Customer) — saved
 * (保存), submitted (提交) and audited (审核) when configured, allocated (分配) to the configured use
 * organisations, and the ERP customer number written back to the CRM.
 *
 * {@link syncCustomers} is the use case; the sales order flow calls it too, for an order whose customer is
 * not in the ERP yet. {@link processAccountChanges} is the queue side: re-read the accounts of a batch of
 * change events (coalesced), then run the use case.
 */
import { asSyncError, type SyncError } from '../errors.ts';
import type { CrmRecordWithDetails } from '../fxiaoke/records.ts';
import {
  buildCustomerWriteBack,
  CUSTOMER_FORM_ID,
  type CustomerMapping,
  mapAccountToCustomer,
} from '../mappings/account-to-customer.ts';
import { requireFlow } from '../mappings/config.ts';
import { buildBillQuery, cellId, cellText, k3All, k3Any, k3Equals, k3In } from '../mappings/k3-requests.ts';
import type { BatchContext, QueueRecord, RecordReport } from './batch.ts';
import {
  type CrmToErpItem,
  type CrmToErpOutcome,
  type CrmToErpSpec,
  crmVersion,
  type ErpFound,
  type ErpLookup,
  flowEnabled,
  type PipelineContext,
  syncCrmToErp,
} from './crm-to-erp.ts';
import { runBatched } from './k3-batch.ts';
import { queryRows } from './k3-query.ts';
import { type ChangeMessage, type OutgoingMessage, writeBackMessage } from './messages.ts';
import type { SyncResult } from './outcome.ts';
import type { SyncRuntime } from './runtime.ts';

export const ACCOUNT_FLOW = 'account-to-customer';
export const ACCOUNT_API_NAME = 'AccountObj';
const FLOW_PATH = 'flows.accountToCustomer';

export interface CustomerInput {
  account: CrmRecordWithDetails;
  owner: string;
  correlationId: string;
  inboxMessageIds: string[];
}

export interface CustomerOutcome extends CrmToErpOutcome {
  /** The CRM write-back queued for this account (the ERP number), if any. */
  writeBackQueued: boolean;
}

function customerSpec(runtime: SyncRuntime): CrmToErpSpec<undefined, undefined, CustomerMapping> {
  const config = runtime.config;
  const flow = requireFlow(config, 'accountToCustomer');
  const orgNumber = flow.orgNumber ?? config.erp.orgNumber;
  const erpField = flow.externalKey.erpField;
  return {
    flow: ACCOUNT_FLOW,
    flowPath: FLOW_PATH,
    apiName: ACCOUNT_API_NAME,
    formId: CUSTOMER_FORM_ID,
    submitAndAudit: flow.submitAndAudit,
    unAuditToUpdate: flow.unAuditToUpdate,
    map: (item, existing) =>
      mapAccountToCustomer(item.record.record, config, existing ? { existing: { id: existing.id } } : {}),
    async lookup(keys, ids, options): Promise<ErpLookup<undefined>> {
      // One query for the batch: by external key in the flow's organisation (allocated copies in other
      // organisations share the key), and linked customers by internal id.
      const query = buildBillQuery(
        CUSTOMER_FORM_ID,
        ['FCUSTID', 'FNumber', 'FDocumentStatus', 'FForbidStatus', 'FUseOrgId.FNumber', erpField],
        k3Any(
          keys.length > 0
            ? k3All(k3In(erpField, [...new Set(keys)]), k3Equals('FUseOrgId.FNumber', orgNumber))
            : undefined,
          ids.length > 0 ? k3In('FCUSTID', [...new Set(ids)]) : undefined,
        ),
        { limit: 2000 },
      );
      const byKey = new Map<string, ErpFound<undefined>[]>();
      const byId = new Map<number, ErpFound<undefined>>();
      for (const row of await queryRows(runtime.k3(), query, options)) {
        const found: ErpFound<undefined> = {
          id: cellId(row, 'FCUSTID', CUSTOMER_FORM_ID),
          number: cellText(row, 'FNumber'),
          status: cellText(row, 'FDocumentStatus'),
          detail: undefined,
        };
        byId.set(found.id, found);
        const key = cellText(row, erpField)?.trim();
        if (key !== undefined && cellText(row, 'FUseOrgId.FNumber') === orgNumber) {
          const list = byKey.get(key) ?? [];
          if (!list.some((f) => f.id === found.id)) list.push(found);
          byKey.set(key, list);
        }
      }
      return { byKey, byId };
    },
    async afterCreate(created) {
      const failures = new Map<string, SyncError>();
      const operations = new Map<string, string[]>();
      const allocate = flow.allocate;
      if (!allocate) return { failures, operations };
      const k3 = runtime.k3();
      const orgIds = await runtime.orgIds(allocate.orgNumbers);
      // Which copies exist already (an earlier attempt may have allocated before failing): allocating twice
      // is refused by K3, so only missing (customer, organisation) pairs are sent.
      const keyOf = new Map(
        created.map((c) => [
          c.item.crmId,
          mapAccountToCustomer(c.item.record.record, config).externalKey.value,
        ]),
      );
      const query = buildBillQuery(
        CUSTOMER_FORM_ID,
        ['FCUSTID', 'FUseOrgId.FNumber', erpField],
        k3All(k3In(erpField, [...new Set(keyOf.values())]), k3In('FUseOrgId.FNumber', allocate.orgNumbers)),
        { limit: 2000 },
      );
      const present = new Map<string, Set<string>>();
      for (const row of await queryRows(k3, query)) {
        const key = cellText(row, erpField)?.trim();
        const org = cellText(row, 'FUseOrgId.FNumber');
        if (key === undefined || org === undefined) continue;
        const orgs = present.get(key) ?? new Set<string>();
        orgs.add(org);
        present.set(key, orgs);
      }
      const groups = new Map<string, { orgs: string[]; members: typeof created }>();
      for (const member of created) {
        const have = present.get(keyOf.get(member.item.crmId) ?? '') ?? new Set<string>();
        const missing = allocate.orgNumbers.filter((org) => !have.has(org));
        if (missing.length === 0) continue;
        const signature = missing.join(',');
        const group = groups.get(signature) ?? { orgs: missing, members: [] };
        group.members.push(member);
        groups.set(signature, group);
      }
      for (const group of groups.values()) {
        const byId = new Map(group.members.map((m) => [String(m.id), m.item.crmId]));
        const errors = await runBatched([...byId.keys()], (pkIds) =>
          k3.allocate({
            formId: CUSTOMER_FORM_ID,
            pkIds,
            targetOrgIds: group.orgs.map((org) => orgIds.get(org) ?? 0),
            isAutoSubmitAndAudit: allocate.autoAudit,
          }),
        );
        for (const [id, crmId] of byId) {
          const error = errors.get(id);
          if (error) failures.set(crmId, error);
          else operations.set(crmId, ['Allocate']);
        }
      }
      return { failures, operations };
    },
  };
}

/**
 * Sync accounts to K3 customers and queue the write-back of each customer number.
 *
 * @throws never for one record's failure (each outcome says it); only when the flow is not configured.
 */
export async function syncCustomers(
  inputs: readonly CustomerInput[],
  ctx: PipelineContext,
): Promise<Map<string, CustomerOutcome>> {
  const runtime = ctx.runtime;
  const items: CrmToErpItem<undefined>[] = inputs.map((input) => ({
    crmId: input.account.record._id,
    record: input.account,
    version: crmVersion(input.account),
    owner: input.owner,
    correlationId: input.correlationId,
    inboxMessageIds: input.inboxMessageIds,
    refs: undefined,
  }));
  const outcomes = await syncCrmToErp(customerSpec(runtime), items, ctx);

  // The ERP number goes back to the CRM through the write-back queue (rate-limited there), for every
  // account whose link has a number the CRM does not show yet — skipped ones too, so a lost write-back
  // heals with the next event.
  const writeBacks: { crmId: string; message: OutgoingMessage }[] = [];
  for (const input of inputs) {
    const outcome = outcomes.get(input.account.record._id);
    const number = outcome?.erpNumber ?? outcome?.link?.erpNumber;
    if (!outcome || outcome.outcome === 'failed' || number === undefined) continue;
    const update = buildCustomerWriteBack(input.account.record, number, runtime.config);
    if (!update) continue;
    const { dataObjectApiName, _id, ...fields } = update;
    writeBacks.push({
      crmId: input.account.record._id,
      message: writeBackMessage({
        kind: 'write-back',
        apiName: dataObjectApiName,
        id: _id ?? input.account.record._id,
        fields,
        flow: ACCOUNT_FLOW,
        reason: 'erp-number',
        requestedAtMs: runtime.clock(),
      }),
    });
  }
  const result = new Map<string, CustomerOutcome>();
  let queueError: SyncError | undefined;
  if (writeBacks.length > 0) {
    try {
      await runtime.queues.send(
        'crmWriteBack',
        writeBacks.map((w) => w.message),
      );
    } catch (error) {
      queueError = asSyncError(error);
    }
  }
  const queued = new Set(writeBacks.map((w) => w.crmId));
  for (const [crmId, outcome] of outcomes) {
    if (queueError && queued.has(crmId)) {
      // The ERP side is done; retrying the event skips it as a duplicate and queues the write-back again.
      result.set(crmId, { ...outcome, outcome: 'failed', error: queueError, writeBackQueued: false });
    } else {
      result.set(crmId, { ...outcome, writeBackQueued: queued.has(crmId) });
    }
  }
  return result;
}

/** Everything the batch knows about one record: its messages, newest receive time, claim owner. */
export interface RecordGroup {
  id: string;
  sqsMessageIds: string[];
  inboxMessageIds: string[];
  notBeforeMs: number;
  owner: string;
  correlationId: string;
}

/** Group change messages by record (one re-read and one sync per record, whatever the number of events). */
export function groupChanges(records: readonly QueueRecord<ChangeMessage>[]): Map<string, RecordGroup> {
  const groups = new Map<string, RecordGroup>();
  for (const record of records) {
    const body = record.body;
    const group = groups.get(body.dataId);
    if (group) {
      group.sqsMessageIds.push(record.sqsMessageId);
      group.inboxMessageIds.push(body.messageId);
      group.notBeforeMs = Math.max(group.notBeforeMs, body.receivedAtMs);
    } else {
      groups.set(body.dataId, {
        id: body.dataId,
        sqsMessageIds: [record.sqsMessageId],
        inboxMessageIds: [body.messageId],
        notBeforeMs: body.receivedAtMs,
        // The first message of a group stays first on every retry (the whole group is retried together).
        owner: `sqs:${record.sqsMessageId}`,
        correlationId: record.sqsMessageId,
      });
    }
  }
  return groups;
}

/** A skipped report for every message (flow switched off, record gone, …). */
export function skippedReports(
  flow: string,
  apiName: string,
  groups: Iterable<RecordGroup>,
  reason: string,
): RecordReport[] {
  return [...groups].map((group) => ({
    sqsMessageIds: group.sqsMessageIds,
    result: {
      flow,
      source: { system: 'crm', type: apiName, id: group.id },
      outcome: 'skipped',
      reason,
      inboxMessageIds: group.inboxMessageIds,
      correlationId: group.correlationId,
    },
  }));
}

/** Skipped reports for events of objects this queue does not handle (a routing change while queued). */
export function unroutedReports(
  flow: string,
  records: readonly QueueRecord<ChangeMessage>[],
  handled: readonly string[],
): RecordReport[] {
  return records
    .filter((record) => !handled.includes(record.body.apiName))
    .map((record) => ({
      sqsMessageIds: [record.sqsMessageId],
      result: {
        flow,
        source: { system: 'crm', type: record.body.apiName, id: record.body.dataId },
        outcome: 'skipped',
        reason: `not handled by ${flow} (routing changed after the event was queued)`,
        inboxMessageIds: [record.body.messageId],
        correlationId: record.sqsMessageId,
      },
    }));
}

/** The sync-log result of a customer outcome. */
export function customerResult(
  outcome: CustomerOutcome | CrmToErpOutcome,
  group: Pick<RecordGroup, 'inboxMessageIds' | 'correlationId'>,
  version: number | undefined,
): SyncResult {
  return {
    flow: ACCOUNT_FLOW,
    source: { system: 'crm', type: ACCOUNT_API_NAME, id: outcome.crmId },
    outcome: outcome.outcome,
    reason: outcome.reason,
    error: outcome.error,
    ...(outcome.erpId
      ? {
          target: {
            system: 'erp' as const,
            type: CUSTOMER_FORM_ID,
            ids: [outcome.erpId],
            ...(outcome.erpNumber ? { number: outcome.erpNumber } : {}),
          },
        }
      : {}),
    sourceVersion: version,
    operations: outcome.operations,
    inboxMessageIds: group.inboxMessageIds,
    correlationId: group.correlationId,
  };
}

/**
 * The account queue's batch: group events by account, re-read the accounts (coalesced), sync them.
 */
export async function processAccountChanges(
  records: QueueRecord<ChangeMessage>[],
  ctx: BatchContext,
): Promise<RecordReport[]> {
  const { runtime } = ctx;
  const groups = groupChanges(records.filter((r) => r.body.apiName === ACCOUNT_API_NAME));
  const reports = unroutedReports(ACCOUNT_FLOW, records, [ACCOUNT_API_NAME]);
  if (!flowEnabled(runtime.config, 'accountToCustomer')) {
    return [...reports, ...skippedReports(ACCOUNT_FLOW, ACCOUNT_API_NAME, groups.values(), 'flow disabled')];
  }
  const reads = await runtime.reader().read(
    ACCOUNT_API_NAME,
    [...groups.values()].map((g) => ({
      id: g.id,
      notBeforeMs: g.notBeforeMs,
      inboxMessageIds: g.inboxMessageIds,
    })),
  );
  const inputs: CustomerInput[] = [];
  for (const group of groups.values()) {
    const read = reads.get(group.id);
    if (!read?.found) {
      reports.push(
        ...skippedReports(
          ACCOUNT_FLOW,
          ACCOUNT_API_NAME,
          [group],
          'not-found: the account no longer exists or is not visible',
        ),
      );
      continue;
    }
    inputs.push({
      account: { record: read.record, details: read.details },
      owner: group.owner,
      correlationId: group.correlationId,
      inboxMessageIds: group.inboxMessageIds,
    });
  }
  const outcomes = await syncCustomers(inputs, {
    runtime,
    logger: ctx.logger,
    ...(ctx.signal ? { callOptions: { signal: ctx.signal } } : {}),
  });
  for (const input of inputs) {
    const group = groups.get(input.account.record._id);
    const outcome = outcomes.get(input.account.record._id);
    if (!group || !outcome) continue;
    reports.push({
      sqsMessageIds: group.sqsMessageIds,
      result: customerResult(outcome, group, crmVersion(input.account)),
    });
  }
  return reports;
}

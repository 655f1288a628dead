/**
 * The shared pipeline of the CRM → ERP flows (customers, sales orders): one batch of CRM records, already
 * re-read and with their references resolved, becomes K3Cloud records — each exactly once, with the newest
 * data, whatever the redeliveries, concurrency, lost responses and expired sessions on the way.
 *
 * Primary course, per batch:
 *  1. Eligibility: only records in `crm.syncLifeStatuses` (approved, not deleted) go on.
 *  2. Map (pure, lib/mappings) to get the content hash and the external key.
 *  3. Claim each record's link (one worker per record at a time) and classify the change against it:
 *     older or same version → skip; newer but same content → skip `unchanged` (the version still advances).
 *  4. Look everything up in K3 with ONE query: linked records by internal id, the rest by external key — so
 *     a record created by an earlier attempt whose response was lost is found, never created twice.
 *  5. Decide: linked and found → update; found by key → adopt and update; otherwise → create. Map again
 *     with the existing record (its primary key, entry ids).
 *  6. An audited (or submitted) bill cannot be modified: UnAudit first (flag-controlled), logged.
 *  7. Save: creates together in one BatchSave (errors matched back by DIndex), updates one by one.
 *  8. Submit + Audit with one call each for the whole batch (falling back per bill on business errors).
 *  9. Flow hook after a create (the customer's Allocate).
 * 10. Record the link (ids, version, content hash) — the commit point — and release the claim.
 *
 * Failures stay per record. A write whose outcome is unknown keeps its claim and marker, so the retry looks
 * the record up first (step 4); a definite failure before any write releases the claim; a failure after the
 * Save (Submit/Audit refused) still records the link — the ERP record exists — with an empty content hash
 * and the old version, so the next attempt re-runs the whole update rather than skipping it.
 */
import { asSyncError, type SyncError } from '../errors.ts';
import type { CrmRecordWithDetails } from '../fxiaoke/records.ts';
import type { K3CallOptions } from '../k3cloud/client.ts';
import type { Logger } from '../log.ts';
import { requireFlow, type SyncConfig } from '../mappings/config.ts';
import { crmRecordEligibility } from '../mappings/crm-record.ts';
import { toSaveInput } from '../mappings/k3-client-inputs.ts';
import type { K3SaveData } from '../mappings/k3-requests.ts';
import { classifyChange, type Link, type LinkKey } from '../state/links.ts';
import { auditedUpdateDisabled, duplicateExternalKey, linkConflict, recordBusy } from './errors.ts';
import { mapLimited, runBatched } from './k3-batch.ts';
import type { RecordOutcome } from './outcome.ts';
import type { SyncRuntime } from './runtime.ts';

/** An ERP record as the lookup found it. */
export interface ErpFound<E> {
  id: number;
  number: string | undefined;
  /** FDocumentStatus: A 创建, B 审核中, C 已审核, D 重新审核, Z 暂存. */
  status: string | undefined;
  /** The flow's own view of it (e.g. the order's entry rows). */
  detail: E;
}

export interface ErpLookup<E> {
  /** By external key value; more than one entry is a duplicate a person must resolve. */
  byKey: Map<string, ErpFound<E>[]>;
  byId: Map<number, ErpFound<E>>;
}

/** The part of a mapping result the pipeline needs. */
export interface ErpMapping {
  mode: 'create' | 'update';
  save: K3SaveData;
  contentHash: string;
  externalKey: { erpField: string; value: string };
}

/** One CRM record to sync. */
export interface CrmToErpItem<R> {
  crmId: string;
  record: CrmRecordWithDetails;
  /** CRM `version` (grows with every write). */
  version: number;
  /** Claim owner: stable across retries of the same queue message, so a retry resumes its own claim. */
  owner: string;
  correlationId: string;
  inboxMessageIds: string[];
  /** References resolved by the flow before mapping (customer number, materials). */
  refs: R;
}

export interface CrmToErpSpec<R, E, M extends ErpMapping> {
  flow: string;
  /** `flows.<id>` for messages. */
  flowPath: string;
  apiName: string;
  formId: string;
  submitAndAudit: boolean;
  /** Un-audit an audited bill before updating it (else the update is refused as a business error). */
  unAuditToUpdate: boolean;
  /**
   * Map a record; `existing` absent = create shape.
   *
   * @throws {MappingError} for data or config problems of this record.
   */
  map(item: CrmToErpItem<R>, existing: ErpFound<E> | undefined): M;
  /** One K3 query for the whole batch. @throws K3CloudError when K3 fails. */
  lookup(keys: readonly string[], ids: readonly number[], options: K3CallOptions): Promise<ErpLookup<E>>;
  /** After records were created (or adopted): what was done and what failed, by crmId. */
  afterCreate?(
    created: { item: CrmToErpItem<R>; id: number; number: string | undefined }[],
  ): Promise<AfterCreateResult>;
}

export interface AfterCreateResult {
  failures: Map<string, SyncError>;
  /** Operations performed per crmId (e.g. `Allocate`). */
  operations: Map<string, string[]>;
}

export interface CrmToErpOutcome {
  crmId: string;
  outcome: RecordOutcome;
  reason?: string | undefined;
  error?: SyncError | undefined;
  erpId?: string | undefined;
  erpNumber?: string | undefined;
  operations: string[];
  /** The link as it stands after this attempt (for write-backs and follow-up flows). */
  link?: Link | undefined;
}

export interface PipelineContext {
  runtime: SyncRuntime;
  logger: Logger;
  /** Passed to every K3 call (e.g. an abort signal before the Lambda's deadline). */
  callOptions?: K3CallOptions;
}

interface Work<R, E, M extends ErpMapping> {
  item: CrmToErpItem<R>;
  key: LinkKey;
  pre: M;
  link: Link | undefined;
  claimed: boolean;
  found: ErpFound<E> | undefined;
  relink: boolean;
  createPath: boolean;
  mapping: M | undefined;
  status: string | undefined;
  wasAudited: boolean;
  erpId: string | undefined;
  erpNumber: string | undefined;
  ops: string[];
  saved: boolean;
  error: SyncError | undefined;
  /** A write's outcome is unknown: keep the claim, look up first next time. */
  unknown: boolean;
  outcome: CrmToErpOutcome | undefined;
}

/** Editable statuses (Save allowed); B and C must be un-audited first. */
const EDITABLE = new Set(['A', 'D', 'Z']);
/** Claims, link writes and single Saves sent at once. */
const CONCURRENCY = 8;

/** A link key of a CRM → ERP flow. */
export function crmLinkKey(apiName: string, crmId: string, formId: string): LinkKey {
  return { origin: 'crm', apiName, crmId, formId };
}

/**
 * Sync a batch of CRM records to K3Cloud (see the module comment). Every item gets an outcome; nothing
 * throws for one record's failure.
 */
export async function syncCrmToErp<R, E, M extends ErpMapping>(
  spec: CrmToErpSpec<R, E, M>,
  items: readonly CrmToErpItem<R>[],
  ctx: PipelineContext,
): Promise<Map<string, CrmToErpOutcome>> {
  const { runtime, logger } = ctx;
  const config = runtime.config;
  const links = runtime.state.links;
  const callOptions = ctx.callOptions ?? {};
  const outcomes = new Map<string, CrmToErpOutcome>();
  const works: Work<R, E, M>[] = [];

  const finish = (work: Work<R, E, M>, outcome: Omit<CrmToErpOutcome, 'crmId' | 'operations'>) => {
    work.outcome = { crmId: work.item.crmId, operations: work.ops, ...outcome };
  };
  const fail = (work: Work<R, E, M>, error: unknown) => {
    work.error ??= asSyncError(error);
    if (work.error.kind === 'outcome-unknown') work.unknown = true;
  };
  const alive = () => works.filter((w) => w.outcome === undefined && w.error === undefined);

  // 1–2. Eligibility and a first mapping (hash, external key).
  for (const item of items) {
    const eligibility = crmRecordEligibility(item.record.record, config);
    if (!eligibility.eligible) {
      outcomes.set(item.crmId, {
        crmId: item.crmId,
        outcome: 'skipped',
        reason: `${eligibility.reason}: ${eligibility.en}`,
        operations: [],
      });
      continue;
    }
    try {
      const pre = spec.map(item, undefined);
      works.push({
        item,
        key: crmLinkKey(spec.apiName, item.crmId, spec.formId),
        pre,
        link: undefined,
        claimed: false,
        found: undefined,
        relink: false,
        createPath: false,
        mapping: undefined,
        status: undefined,
        wasAudited: false,
        erpId: undefined,
        erpNumber: undefined,
        ops: [],
        saved: false,
        error: undefined,
        unknown: false,
        outcome: undefined,
      });
    } catch (error) {
      outcomes.set(item.crmId, {
        crmId: item.crmId,
        outcome: 'failed',
        error: asSyncError(error),
        operations: [],
      });
    }
  }

  // 3. Claim and classify.
  await mapLimited(works, CONCURRENCY, async (work) => {
    try {
      const claim = await links.claim(work.key, { owner: work.item.owner });
      if (claim.status === 'busy') {
        fail(work, recordBusy(`${spec.apiName} ${work.item.crmId}`, claim.holder.untilMs - runtime.clock()));
        return;
      }
      work.claimed = true;
      work.link = claim.link;
      const decision = classifyChange(claim.link, {
        version: work.item.version,
        contentHash: work.pre.contentHash,
      });
      if (decision.action !== 'skip') return;
      if (decision.reason === 'unchanged' && claim.link) {
        // Same content under a newer version: advance the version so the next event compares against it.
        const written = await links.recordSynced(work.key, {
          owner: work.item.owner,
          version: work.item.version,
          contentHash: work.pre.contentHash,
          ...(claim.link.erpId === undefined ? {} : { erpId: claim.link.erpId }),
          correlationId: work.item.correlationId,
          ...(work.item.inboxMessageIds[0] ? { messageId: work.item.inboxMessageIds[0] } : {}),
        });
        finish(work, { outcome: 'skipped', reason: 'unchanged', link: written.link });
      } else {
        await links.release(work.key, work.item.owner);
        finish(work, { outcome: 'skipped', reason: decision.reason, link: claim.link });
      }
    } catch (error) {
      fail(work, error);
    }
  });

  // 4. One K3 lookup for the batch.
  const toLookUp = alive();
  if (toLookUp.length > 0) {
    const linkedIdOf = (work: Work<R, E, M>): number | undefined => {
      const id = work.link?.state === 'linked' && work.link.erpId ? Number(work.link.erpId) : Number.NaN;
      return Number.isInteger(id) && id > 0 ? id : undefined;
    };
    let lookup: ErpLookup<E> | undefined;
    try {
      lookup = await spec.lookup(
        toLookUp.map((w) => w.pre.externalKey.value),
        toLookUp.flatMap((w) => linkedIdOf(w) ?? []),
        callOptions,
      );
    } catch (error) {
      for (const work of toLookUp) fail(work, error);
    }
    // 5. Decide create / adopt / update, and map with the existing record.
    for (const work of lookup ? toLookUp : []) {
      const linkedId = linkedIdOf(work);
      const byId = linkedId === undefined ? undefined : lookup?.byId.get(linkedId);
      if (byId) {
        work.found = byId;
      } else {
        const matches = lookup?.byKey.get(work.pre.externalKey.value) ?? [];
        if (matches.length > 1) {
          fail(
            work,
            duplicateExternalKey(
              spec.formId,
              work.pre.externalKey.value,
              matches.map((m) => m.number ?? String(m.id)),
            ),
          );
          continue;
        }
        work.found = matches[0];
        work.createPath = true;
        // The link pointed at a record that no longer exists in K3 (deleted by hand): move it.
        work.relink = linkedId !== undefined;
      }
      work.status = work.found?.status;
      try {
        work.mapping = work.found ? spec.map(work.item, work.found) : work.pre;
      } catch (error) {
        fail(work, error);
      }
    }
  }

  const k3 = runtime.k3();

  // 6. Audited or submitted bills are un-audited before an update.
  const locked = alive().filter((w) => w.found && w.status !== undefined && !EDITABLE.has(w.status));
  if (locked.length > 0) {
    if (!spec.unAuditToUpdate) {
      for (const work of locked) {
        fail(
          work,
          auditedUpdateDisabled(spec.formId, work.found?.number ?? String(work.found?.id), spec.flowPath),
        );
      }
    } else {
      // A submitted bill (B, 审核中) is audited first: only audited bills can be un-audited. It is normally our
      // own earlier attempt, interrupted between Submit and Audit.
      const submitted = locked.filter((w) => w.status === 'B');
      const auditFailures = await runBatched(idsOf(submitted), (ids) =>
        k3.audit({ formId: spec.formId, ids }, callOptions),
      );
      for (const work of submitted) {
        const error = auditFailures.get(String(work.found?.id));
        if (error) fail(work, error);
        else {
          work.status = 'C';
          work.ops.push('Audit');
        }
      }
      const audited = locked.filter((w) => w.error === undefined);
      const unAuditFailures = await runBatched(idsOf(audited), (ids) =>
        k3.unAudit({ formId: spec.formId, ids }, callOptions),
      );
      for (const work of audited) {
        const error = unAuditFailures.get(String(work.found?.id));
        if (error) {
          fail(work, error);
          continue;
        }
        work.status = 'D';
        work.wasAudited = true;
        work.ops.push('UnAudit');
        logger.info('sync.k3.unaudit-before-update', {
          flow: spec.flow,
          formId: spec.formId,
          number: work.found?.number,
          crmId: work.item.crmId,
        });
      }
    }
  }

  // 7. Save: creates in one BatchSave, updates one by one.
  const creates = alive().filter((w) => !w.found);
  const updates = alive().filter((w) => w.found);
  if (creates.length === 1) {
    const [work] = creates;
    if (work?.mapping) {
      try {
        const saved = await k3.save(toSaveInput(spec.formId, work.mapping.save), callOptions);
        markSaved(work, saved.id, saved.number ?? undefined, 'A');
      } catch (error) {
        fail(work, error);
      }
    }
  } else if (creates.length > 1) {
    try {
      const result = await k3.batchSave(
        { formId: spec.formId, models: creates.map((w) => w.mapping?.save.Model ?? {}) },
        callOptions,
      );
      for (const item of result.items) {
        const work = creates[item.index];
        if (!work) continue;
        if (item.ok) markSaved(work, item.id, item.number ?? undefined, 'A');
        else fail(work, item.error);
      }
    } catch (error) {
      for (const work of creates) fail(work, error);
    }
  }
  await mapLimited(updates, CONCURRENCY, async (work) => {
    if (!work.mapping || !work.found) return;
    try {
      const saved = await k3.save(toSaveInput(spec.formId, work.mapping.save), callOptions);
      markSaved(work, saved.id || String(work.found.id), saved.number ?? work.found.number, work.status);
    } catch (error) {
      fail(work, error);
    }
  });

  // A bill un-audited for an update whose Save then failed is audited again, as it was.
  const toRestore = works.filter((w) => w.wasAudited && !w.saved && w.error !== undefined);
  if (toRestore.length > 0) {
    const ids = idsOf(toRestore);
    const submitFailures = await runBatched(ids, (part) =>
      k3.submit({ formId: spec.formId, ids: part }, callOptions),
    );
    const auditIds = ids.filter((id) => !submitFailures.has(id));
    const auditFailures = await runBatched(auditIds, (part) =>
      k3.audit({ formId: spec.formId, ids: part }, callOptions),
    );
    for (const work of toRestore) {
      const id = String(work.found?.id);
      const restored = !submitFailures.has(id) && !auditFailures.has(id);
      logger[restored ? 'info' : 'error']('sync.k3.reaudit-after-failed-update', {
        flow: spec.flow,
        number: work.found?.number,
        restored,
      });
    }
  }

  // 8. Submit and audit (new bills when configured; updated bills that were audited before, always).
  const wantsAudit = (w: Work<R, E, M>) => spec.submitAndAudit || w.wasAudited;
  const toSubmit = works.filter(
    (w) => w.saved && !w.error && wantsAudit(w) && (w.status === undefined || EDITABLE.has(w.status)),
  );
  const submitFailures = await runBatched(
    toSubmit.flatMap((w) => w.erpId ?? []),
    (ids) => k3.submit({ formId: spec.formId, ids }, callOptions),
  );
  for (const work of toSubmit) {
    const error = submitFailures.get(work.erpId ?? '');
    if (error) fail(work, error);
    else {
      work.status = 'B';
      work.ops.push('Submit');
    }
  }
  const toAudit = works.filter((w) => w.saved && !w.error && wantsAudit(w) && w.status === 'B');
  const auditFailures = await runBatched(
    toAudit.flatMap((w) => w.erpId ?? []),
    (ids) => k3.audit({ formId: spec.formId, ids }, callOptions),
  );
  for (const work of toAudit) {
    const error = auditFailures.get(work.erpId ?? '');
    if (error) fail(work, error);
    else {
      work.status = 'C';
      work.ops.push('Audit');
    }
  }

  // 9. Flow hook after creates (allocation).
  const created = works.filter((w) => w.saved && !w.error && w.createPath);
  if (spec.afterCreate && created.length > 0) {
    try {
      const after = await spec.afterCreate(
        created.map((w) => ({ item: w.item, id: Number(w.erpId), number: w.erpNumber })),
      );
      for (const work of created) {
        work.ops.push(...(after.operations.get(work.item.crmId) ?? []));
        const error = after.failures.get(work.item.crmId);
        if (error) fail(work, error);
      }
    } catch (error) {
      for (const work of created) fail(work, error);
    }
  }

  // 10. Links: the commit point.
  await mapLimited(works, CONCURRENCY, async (work) => {
    if (work.outcome) return;
    if (!work.saved || work.erpId === undefined) {
      if (work.claimed && !work.unknown) {
        await links
          .release(work.key, work.item.owner)
          .catch((error: unknown) => logger.warn('sync.link.release-failed', { key: work.key, error }));
      }
      finish(work, { outcome: 'failed', error: work.error, link: work.link });
      return;
    }
    const complete = work.error === undefined;
    try {
      const written = await links.recordSynced(work.key, {
        owner: work.item.owner,
        erpId: work.erpId,
        ...(work.erpNumber === undefined ? {} : { erpNumber: work.erpNumber }),
        // After a failure past the Save the old version stays and the hash is cleared, so the next attempt
        // (or the next event) runs the full update instead of skipping it.
        version: complete ? work.item.version : (work.link?.version ?? 0),
        allowSameVersion: !complete,
        contentHash: complete ? (work.mapping?.contentHash ?? '') : '',
        relink: work.relink,
        correlationId: work.item.correlationId,
        ...(work.item.inboxMessageIds[0] ? { messageId: work.item.inboxMessageIds[0] } : {}),
        modifiedAtMs: work.item.record.record.last_modified_time ?? runtime.clock(),
      });
      if (written.status === 'conflict') {
        fail(work, linkConflict(`${spec.apiName} ${work.item.crmId}`, written.link.erpId, work.erpId));
      } else if (written.status === 'busy') {
        fail(work, recordBusy(`${spec.apiName} ${work.item.crmId}`, 5_000));
      } else if (written.status === 'stale') {
        logger.info('sync.link.newer-version-won', { key: work.key, stored: written.link.version });
      }
      finish(work, {
        outcome: work.error ? 'failed' : 'succeeded',
        error: work.error,
        erpId: work.erpId,
        erpNumber: work.erpNumber,
        link: written.link,
        ...(work.createPath
          ? { reason: work.found ? 'adopted existing ERP record' : 'created' }
          : { reason: 'updated' }),
      });
    } catch (error) {
      fail(work, error);
      finish(work, { outcome: 'failed', error: work.error, erpId: work.erpId, erpNumber: work.erpNumber });
    }
  });

  for (const work of works) {
    if (work.outcome) outcomes.set(work.item.crmId, work.outcome);
  }
  return outcomes;

  function markSaved(
    work: Work<R, E, M>,
    id: string,
    number: string | undefined,
    status: string | undefined,
  ) {
    work.saved = true;
    work.erpId = id;
    work.erpNumber = number ?? work.found?.number;
    work.status = work.found ? status : 'A';
    work.ops.push('Save');
  }
}

function idsOf(works: readonly { found: { id: number } | undefined }[]): string[] {
  return works.flatMap((w) => (w.found ? [String(w.found.id)] : []));
}

/** The CRM version of a record (Fxiaoke `version`; the modify time when a tenant's objects lack it). */
export function crmVersion(record: CrmRecordWithDetails): number {
  return record.record.version ?? record.record.last_modified_time ?? 0;
}

/** Whether a flow is configured and enabled (messages of a disabled flow are skipped, not failed). */
export function flowEnabled(config: SyncConfig, flow: keyof SyncConfig['flows']): boolean {
  try {
    requireFlow(config, flow);
    return true;
  } catch {
    return false;
  }
}

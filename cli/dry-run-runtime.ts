/**
 * A sync runtime that reads everything and writes nothing, for `fxk3 dry-run`.
 *
 * The dry run runs the flows' own queue processors (`processAccountChanges`, `processSalesOrderChanges`) —
 * the very code a queue message runs — over this runtime, so what it prints is what the pipeline would send,
 * in the same order, batched the same way, with the same decisions (link, K3 lookup by external key,
 * un-audit before an update, allocation of a new customer). Writes are intercepted at the edges instead:
 *
 * - K3Cloud: {@link DryRunK3Client} passes reads (ExecuteBillQuery, View) through and records every write
 *   (Save, BatchSave, Submit, Audit, UnAudit, Allocate, Push, Delete, ExcuteOperation) as the exact `data`
 *   the client would send, answering with placeholders for new records' ids and numbers;
 * - state: links are read, never claimed or written; the inbox, snapshots, cursors and the sync log are
 *   not written; the re-read asks Fxiaoke directly (no snapshot, no pending-read claim);
 * - queues: what would be queued (write-backs, delivery-notice requests) is recorded, not sent.
 *
 * What it still shares with the deployment, on purpose: the K3Cloud session and the Fxiaoke token (a dry run
 * must not cost a login or invalidate the flows' token) and the Fxiaoke rate-limit budget, which counts its
 * calls like any other caller's so it never pushes the flows into 14001.
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { SyncError } from '../lib/errors.ts';
import { type K3CallOptions, K3CloudClient } from '../lib/k3cloud/client.ts';
import { readK3CloudConfig } from '../lib/k3cloud/config.ts';
import {
  allocateData,
  auditData,
  batchSaveData,
  deleteData,
  executeOperationData,
  type K3AllocateInput,
  type K3AuditInput,
  type K3BatchSaveInput,
  type K3BatchSaveResult,
  type K3DeleteInput,
  type K3ExecuteOperationInput,
  type K3OperationResult,
  type K3PushInput,
  type K3PushResult,
  type K3SaveInput,
  type K3SaveResult,
  type K3SubmitInput,
  type K3UnAuditInput,
  pushData,
  saveData,
  submitData,
} from '../lib/k3cloud/operations.ts';
import { k3SessionCredentialSchema } from '../lib/k3cloud/session.ts';
import { type K3FormOperation, operationUrl, responseStatusSchema } from '../lib/k3cloud/wire.ts';
import {
  type ClaimOptions,
  type ClaimResult,
  CursorStore,
  EventInbox,
  type InboxEvent,
  type InboxReceipt,
  type Link,
  type LinkKey,
  LinkStore,
  type PendingRead,
  type RecordSyncedInput,
  type RecordSyncedResult,
  readStateConfig,
  type Snapshot,
  type SnapshotInput,
  SnapshotStore,
  SyncLog,
  type SyncLogEntry,
  type SyncLogEntryInput,
} from '../lib/state/index.ts';
import type { OutgoingMessage } from '../lib/sync/messages.ts';
import { QueueClient, type QueueRole } from '../lib/sync/queues.ts';
import { type CrmRead, CrmReader, type ReadRequest } from '../lib/sync/reader.ts';
import type { SyncRuntime } from '../lib/sync/runtime.ts';

/** A write the pipeline would have sent to K3Cloud. */
export interface RecordedK3Request {
  /** K3's operation name: `Save`, `BatchSave`, `Submit`, `Audit`, `UnAudit`, `Allocate`, `Push`, … */
  operation: string;
  formId: string;
  /** The endpoint it goes to. */
  url: string;
  /** The `data` argument exactly as the client sends it (next to `formid`). */
  data: object;
}

/** A message the pipeline would have queued. */
export interface RecordedQueueMessage {
  queue: QueueRole;
  groupId: string;
  deduplicationId: string;
  body: OutgoingMessage['body'];
}

/**
 * Internal ids of records a dry run "creates": far above any real K3 FID (K3 counts from ~100 000), so they
 * can be told apart and replaced by a readable placeholder in the output.
 */
const PLACEHOLDER_ID_BASE = 900_000_000_000;

/** Placeholders of new records, by the fake id / number the dry run handed out. */
export class Placeholders {
  readonly #byValue = new Map<string, string>();
  #next = 1;

  /** A fake id and number for a record the dry run creates in `formId`. */
  issue(formId: string, number: string | undefined): { id: string; number: string } {
    const n = this.#next;
    this.#next += 1;
    const id = String(PLACEHOLDER_ID_BASE + n);
    this.#byValue.set(id, `<新建 new ${formId} #${n} FID>`);
    const shownNumber = number ?? `<新建 new ${formId} #${n} 编码 number>`;
    return { id, number: shownNumber };
  }

  /** `value` with every fake id replaced by its placeholder (deeply; numbers and comma-joined id lists too). */
  reveal(value: unknown): unknown {
    if (typeof value === 'number') return this.#byValue.get(String(value)) ?? value;
    if (typeof value === 'string') {
      let out = value;
      for (const [fake, shown] of this.#byValue) if (out.includes(fake)) out = out.split(fake).join(shown);
      return out;
    }
    if (Array.isArray(value)) return value.map((item) => this.reveal(item));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.reveal(item)]));
    }
    return value;
  }
}

/** The Model's primary key value: the first key of a Save Model (`FCUSTID`, `FID`), 0 for a create. */
function primaryKeyOf(model: Readonly<Record<string, unknown>>): number {
  const first = Object.values(model)[0];
  const n = typeof first === 'number' ? first : Number(first);
  return Number.isFinite(n) ? n : 0;
}

function numberIn(model: Readonly<Record<string, unknown>>): string | undefined {
  const value = model.FNumber ?? model.FBillNo;
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** K3Cloud client whose writes are recorded instead of sent (module comment). */
export class DryRunK3Client extends K3CloudClient {
  readonly requests: RecordedK3Request[] = [];
  readonly placeholders: Placeholders;
  readonly #serverUrl: string;

  constructor(options: ConstructorParameters<typeof K3CloudClient>[0], placeholders: Placeholders) {
    super(options);
    this.#serverUrl = options.config.serverUrl;
    this.placeholders = placeholders;
  }

  #record(operation: K3FormOperation, formId: string | undefined, data: object): void {
    this.requests.push({
      operation,
      formId: formId ?? '',
      url: operationUrl(this.#serverUrl, operation).href,
      data,
    });
  }

  override async save(input: K3SaveInput, _options?: K3CallOptions): Promise<K3SaveResult> {
    const { ctx, data } = saveData('Save', input);
    this.#record('Save', ctx.formId, data);
    const pk = primaryKeyOf(input.model);
    if (pk > 0)
      return {
        id: String(pk),
        number: numberIn(input.model) ?? null,
        needReturnData: undefined,
        successMessages: [],
      };
    const issued = this.placeholders.issue(input.formId, numberIn(input.model));
    return { id: issued.id, number: issued.number, needReturnData: undefined, successMessages: [] };
  }

  override async draft(input: K3SaveInput, _options?: K3CallOptions): Promise<K3SaveResult> {
    const { ctx, data } = saveData('Draft', input);
    this.#record('Draft', ctx.formId, data);
    // Drafts have no number (K3 assigns it when the draft is saved for real).
    const pk = primaryKeyOf(input.model);
    const id = pk > 0 ? String(pk) : this.placeholders.issue(input.formId, undefined).id;
    return { id, number: null, needReturnData: undefined, successMessages: [] };
  }

  override async batchSave(input: K3BatchSaveInput, _options?: K3CallOptions): Promise<K3BatchSaveResult> {
    const { ctx, data } = batchSaveData(input);
    this.#record('BatchSave', ctx.formId, data);
    const items = input.models.map((model, index) => {
      const pk = primaryKeyOf(model);
      const issued =
        pk > 0
          ? { id: String(pk), number: numberIn(model) ?? null }
          : this.placeholders.issue(input.formId, numberIn(model));
      return { index, ok: true as const, id: issued.id, number: issued.number };
    });
    return { items, succeeded: items.length, failed: 0, needReturnData: undefined };
  }

  override async submit(input: K3SubmitInput, _options?: K3CallOptions): Promise<K3OperationResult> {
    const { ctx, data } = submitData(input);
    this.#record('Submit', ctx.formId, data);
    return { successEntities: [], successMessages: [] };
  }

  override async audit(input: K3AuditInput, _options?: K3CallOptions): Promise<K3OperationResult> {
    const { ctx, data } = auditData('Audit', input);
    this.#record('Audit', ctx.formId, data);
    return { successEntities: [], successMessages: [] };
  }

  override async unAudit(input: K3UnAuditInput, _options?: K3CallOptions): Promise<K3OperationResult> {
    const { ctx, data } = auditData('UnAudit', input);
    this.#record('UnAudit', ctx.formId, data);
    return { successEntities: [], successMessages: [] };
  }

  override async delete(input: K3DeleteInput, _options?: K3CallOptions): Promise<K3OperationResult> {
    const { ctx, data } = deleteData(input);
    this.#record('Delete', ctx.formId, data);
    return { successEntities: [], successMessages: [] };
  }

  override async executeOperation(
    input: K3ExecuteOperationInput,
    _options?: K3CallOptions,
  ): Promise<K3OperationResult> {
    const { ctx, opNumber, data } = executeOperationData(input);
    this.#record('ExcuteOperation', ctx.formId, { opNumber, ...data });
    return { successEntities: [], successMessages: [] };
  }

  override async allocate(input: K3AllocateInput, _options?: K3CallOptions): Promise<K3OperationResult> {
    const { ctx, data } = allocateData(input);
    this.#record('Allocate', ctx.formId, data);
    return { successEntities: [], successMessages: [] };
  }

  override async push(input: K3PushInput, _options?: K3CallOptions): Promise<K3PushResult> {
    const { ctx, data } = pushData(input);
    this.#record('Push', ctx.formId, data);
    const issued = this.placeholders.issue(input.targetFormId ?? 'target', undefined);
    return {
      targets: [{ id: issued.id, number: issued.number, dIndex: 0 }],
      responseStatus: responseStatusSchema.parse({
        IsSuccess: true,
        SuccessEntitys: [{ Id: issued.id, Number: issued.number, DIndex: 0 }],
      }),
      convertResponseStatus: null,
    };
  }
}

/** Links read as they are; claims and writes answered as if they had succeeded, nothing stored. */
class ReadOnlyLinkStore extends LinkStore {
  readonly #clock: () => number;

  constructor(options: ConstructorParameters<typeof LinkStore>[0] & { clock: () => number }) {
    super(options);
    this.#clock = options.clock;
  }

  override async claim(key: LinkKey, options: ClaimOptions): Promise<ClaimResult> {
    const link = await this.get(key);
    const now = this.#clock();
    const claim = link?.claim;
    if (link && claim && claim.untilMs > now && claim.owner !== options.owner) {
      return { status: 'busy', holder: claim, link };
    }
    return { status: 'claimed', link, takenOver: claim && claim.untilMs <= now ? claim : undefined };
  }

  override async recordSynced(key: LinkKey, input: RecordSyncedInput): Promise<RecordSyncedResult> {
    const stored = await this.get(key);
    const now = this.#clock();
    const link: Link = {
      origin: key.origin,
      apiName: key.apiName,
      formId: key.formId,
      crmId: key.origin === 'crm' ? key.crmId : (input.crmId ?? stored?.crmId),
      erpId: key.origin === 'erp' ? key.erpId : (input.erpId ?? stored?.erpId),
      erpNumber: input.erpNumber ?? stored?.erpNumber,
      state: 'linked',
      version: input.version,
      modifiedAtMs: input.modifiedAtMs ?? stored?.modifiedAtMs,
      contentHash: input.contentHash ?? stored?.contentHash,
      claim: undefined,
      createdAtMs: stored?.createdAtMs ?? now,
      updatedAtMs: now,
      syncedAtMs: now,
      syncCount: (stored?.syncCount ?? 0) + 1,
      lastCorrelationId: input.correlationId ?? stored?.lastCorrelationId,
      lastMessageId: input.messageId ?? stored?.lastMessageId,
    };
    return { status: 'written', link };
  }

  override async release(_key: LinkKey, _owner: string): Promise<boolean> {
    return true;
  }

  override async remove(_key: LinkKey): Promise<void> {}
}

/** The inbox, read-only: nothing recorded, no pending read claimed (a dry run must not steal the flows'). */
class ReadOnlyInbox extends EventInbox {
  override async recordIfNew(_event: InboxEvent): Promise<InboxReceipt> {
    return 'new';
  }
  override async markQueued(_messageId: string): Promise<boolean> {
    return true;
  }
  override async markDone(_messageId: string, _state: 'processed' | 'failed'): Promise<boolean> {
    return true;
  }
  override async listPendingReads(_apiName: string): Promise<PendingRead[]> {
    return [];
  }
  /** The dry run's own synthetic event: "won", so the reader reads the record itself at once. */
  override async claimPendingRead(_messageId: string): Promise<boolean> {
    return true;
  }
}

/** No snapshots: the dry run reads the record fresh from Fxiaoke and stores nothing. */
class NoSnapshots extends SnapshotStore {
  override async getMany(_kind: string, _ids: readonly string[]): Promise<Map<string, Snapshot>> {
    return new Map();
  }
  override async put(_kind: string, _snapshot: SnapshotInput): Promise<boolean> {
    return true;
  }
  override async putMany(_kind: string, snapshots: readonly SnapshotInput[]): Promise<number> {
    return snapshots.length;
  }
}

function refusedWrite(what: string): SyncError {
  return new SyncError(`预演不得写入${what} / a dry run must not write the ${what}`, {
    kind: 'internal',
    fault: 'ours',
    code: 'DRY_RUN_WRITE_REFUSED',
  });
}

/** The CRM → ERP flows never write the sync log themselves (the batch does); refuse loudly if one ever does. */
class NoWriteSyncLog extends SyncLog {
  override async append(_input: SyncLogEntryInput): Promise<SyncLogEntry> {
    throw refusedWrite('sync log');
  }
  override async appendMany(_inputs: readonly SyncLogEntryInput[]): Promise<SyncLogEntry[]> {
    throw refusedWrite('sync log');
  }
}

class NoWriteCursors extends CursorStore {
  override async advance(): Promise<never> {
    throw refusedWrite('cursors');
  }
  override async reset(): Promise<void> {
    throw refusedWrite('cursors');
  }
}

/** The coalescing reader, remembering what it read (the dry run shows the record it mapped). */
class RememberingReader extends CrmReader {
  readonly reads = new Map<string, CrmRead>();

  override async read(apiName: string, requests: readonly ReadRequest[]): Promise<Map<string, CrmRead>> {
    const results = await super.read(apiName, requests);
    for (const [id, read] of results) this.reads.set(`${apiName}:${id}`, read);
    return results;
  }
}

/** Queues that record instead of sending. */
class RecordingQueueClient extends QueueClient {
  readonly messages: RecordedQueueMessage[] = [];

  override async send(role: QueueRole, messages: readonly OutgoingMessage[]): Promise<string[]> {
    for (const message of messages) {
      this.messages.push({
        queue: role,
        groupId: message.groupId,
        deduplicationId: message.deduplicationId,
        body: message.body,
      });
    }
    return messages.map((_, index) => `dry-run-${this.messages.length - messages.length + index + 1}`);
  }

  override async delay(): Promise<void> {}
}

export interface DryRunRuntime {
  runtime: SyncRuntime;
  k3: DryRunK3Client;
  queues: RecordingQueueClient;
  /** What was read from Fxiaoke, by `apiName:id`. */
  reads: ReadonlyMap<string, CrmRead>;
  close(): Promise<void>;
}

/**
 * Wrap a real runtime so that it reads everything and writes nothing (module comment).
 *
 * @throws {ConfigError} when the K3Cloud settings or the state tables are not configured.
 */
export function dryRunRuntime(runtime: SyncRuntime, dynamo: DynamoDBClient, sqs: SQSClient): DryRunRuntime {
  const { tables } = readStateConfig(runtime.env);
  const common = { client: dynamo, clock: runtime.clock, logger: runtime.logger };
  const placeholders = new Placeholders();
  const k3 = new DryRunK3Client(
    {
      config: readK3CloudConfig(runtime.env, { sandbox: runtime.settings.sandbox }),
      credentialStore: runtime.state.credentials(k3SessionCredentialSchema),
      logger: runtime.logger,
      clock: runtime.clock,
    },
    placeholders,
  );
  const inbox = new ReadOnlyInbox({ ...common, tableName: tables.inbox });
  const snapshots = new NoSnapshots({ ...common, tableName: tables.coordination });
  const queues = new RecordingQueueClient(sqs, runtime.settings.queues);
  const state = {
    ...runtime.state,
    inbox,
    snapshots,
    links: new ReadOnlyLinkStore({ ...common, tableName: tables.links }),
    syncLog: new NoWriteSyncLog({ ...common, tableName: tables.syncLog }),
    cursors: new NoWriteCursors({ ...common, tableName: tables.coordination }),
  };
  const reader = new RememberingReader({
    fx: runtime.fx(),
    inbox,
    snapshots,
    clock: runtime.clock,
    logger: runtime.logger,
    claimedReadWaitMs: 0,
  });
  const dry: SyncRuntime = {
    ...runtime,
    state,
    queues,
    k3: () => k3,
    reader: () => reader,
    close: async () => {
      await k3.close();
    },
  };
  return { runtime: dry, k3, queues, reads: reader.reads, close: () => dry.close() };
}

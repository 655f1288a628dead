/**
 * The generic CRM engine: create / update / get / query / invalid / recover / delete / changeOwner over any
 * object described in `metadata.ts`, with master–detail handling, computed fields, auto numbers, lookups,
 * data permissions and the system fields of spec §5.1.
 *
 * Every operation validates everything first and then commits one batch to the store, so a rejected call
 * changes nothing. Operations return the change events a CRM would raise; whether they are pushed (the
 * `triggerWorkFlow` flag) is the caller's decision.
 */
import { ADMIN_EMPLOYEE_ID, type Directory, SYSTEM_USER_ID, WHOLE_COMPANY_DEPARTMENT } from './directory.ts';
import { dataNotFound, invalidParameter, validationFailed } from './errors.ts';
import { dateStampGmt8, newRecordId, startOfDayGmt8 } from './ids.ts';
import type { CompiledField, CompiledObject, ObjectRegistry } from './metadata.ts';
import { compileQuery, runQuery, type SearchQueryInfo } from './query.ts';
import type { RecordStore, StoreChange, StoredRecord } from './store.ts';
import { formatDecimal, isEmptyValue, normalizeFieldValue, parseDecimal } from './values.ts';

/** What happened to a record, as the change push reports it. */
export type ChangeKind = 'create' | 'update' | 'invalid' | 'recover' | 'delete';

export interface ChangeEvent {
  apiName: string;
  dataId: string;
  kind: ChangeKind;
  changedAtMs: number;
}

export interface Actor {
  /** CRM employee id (`1000`) or the system user `-10000`. */
  employeeId: string;
  /** UI edits and the control endpoint act with full rights. */
  bypassPermissions?: boolean;
}

export interface WriteOptions {
  actor: Actor;
  /** Honour `create_time` in the payload (spec §4.3 `hasSpecifyTime`, default false). */
  hasSpecifyTime?: boolean;
  /** Honour `created_by` in the payload (spec §4.3 `hasSpecifyCreatedBy`, default false). */
  hasSpecifyCreatedBy?: boolean;
  /** Allow changing locked data (spec §4.4 `skipDataStatusValidate`). */
  skipDataStatusValidate?: boolean;
  /**
   * Create only: the object has an approval flow and the caller did not pass `triggerApprovalFlow: false`,
   * so the new record starts `under_review` and locked until the flow finishes.
   */
  startApproval?: boolean;
  /** Overrides the engine's {@link DetailUpdateMode} for this call (UI edits always replace). */
  detailUpdateMode?: DetailUpdateMode;
}

export type DetailInput = Readonly<Record<string, readonly Readonly<Record<string, unknown>>[]>>;

/**
 * What happens to existing detail rows left out of an update's `details` list (spec §4.4: UNKNOWN).
 * `replace` (default): the list is the complete new set, omitted rows are deleted — what the CRM's own
 * master–detail edit form does. `merge`: omitted rows are kept.
 */
export type DetailUpdateMode = 'replace' | 'merge';

export interface CrmEngineOptions {
  registry: ObjectRegistry;
  store: RecordStore;
  directory: Directory;
  clock: () => number;
  tenantId: number;
  detailUpdateMode: DetailUpdateMode;
}

export interface PresentOptions {
  /** Legacy convention: employee ids become openUserIds (`FSUID_…`) (spec §5.2). */
  convertUserId: boolean;
  projection?: readonly string[] | undefined;
}

type MutableRecord = Record<string, unknown>;

const SYSTEM_INPUT_KEYS = new Set(['dataObjectApiName', 'object_describe_api_name']);

/** Records written within one operation, visible to the operation's own reads before the commit. */
class Transaction {
  readonly #store: RecordStore;
  readonly #puts = new Map<string, { apiName: string; record: StoredRecord }>();
  readonly #deletes = new Map<string, { apiName: string; id: string }>();
  readonly #counters = new Map<string, number>();

  constructor(store: RecordStore) {
    this.#store = store;
  }

  get(apiName: string, id: string): StoredRecord | undefined {
    const key = `${apiName}|${id}`;
    if (this.#deletes.has(key)) return undefined;
    return this.#puts.get(key)?.record ?? this.#store.get(apiName, id);
  }

  put(apiName: string, record: StoredRecord): void {
    const key = `${apiName}|${String(record._id)}`;
    this.#deletes.delete(key);
    this.#puts.set(key, { apiName, record });
  }

  delete(apiName: string, id: string): void {
    const key = `${apiName}|${id}`;
    this.#puts.delete(key);
    this.#deletes.set(key, { apiName, id });
  }

  nextCounter(key: string): number {
    const next = (this.#counters.get(key) ?? this.#store.counter(key)) + 1;
    this.#counters.set(key, next);
    return next;
  }

  /** Detail rows of a master as they will be after this transaction. */
  detailsOf(detailApiName: string, masterField: string, masterId: string): StoredRecord[] {
    const rows = new Map<string, StoredRecord>();
    for (const row of this.#store.details(detailApiName, masterId)) rows.set(String(row._id), row);
    for (const { apiName, record } of this.#puts.values()) {
      if (apiName !== detailApiName) continue;
      if (record[masterField] === masterId) rows.set(String(record._id), record);
      else rows.delete(String(record._id));
    }
    for (const { apiName, id } of this.#deletes.values()) if (apiName === detailApiName) rows.delete(id);
    return [...rows.values()];
  }

  changes(): StoreChange[] {
    const out: StoreChange[] = [];
    for (const [key, value] of this.#counters) out.push({ kind: 'counter', key, value });
    for (const { apiName, record } of this.#puts.values()) out.push({ kind: 'put', apiName, record });
    for (const { apiName, id } of this.#deletes.values()) out.push({ kind: 'delete', apiName, id });
    return out;
  }
}

export class CrmEngine {
  readonly #registry: ObjectRegistry;
  readonly #store: RecordStore;
  readonly #directory: Directory;
  readonly #clock: () => number;
  readonly #tenantId: string;
  readonly #detailUpdateMode: DetailUpdateMode;

  constructor(options: CrmEngineOptions) {
    this.#registry = options.registry;
    this.#store = options.store;
    this.#directory = options.directory;
    this.#clock = options.clock;
    this.#tenantId = String(options.tenantId);
    this.#detailUpdateMode = options.detailUpdateMode;
  }

  // ── reads ──────────────────────────────────────────────────────────────────────────────────────────

  /**
   * One record by id (invalidated ones included, with `life_status: invalid`).
   * @throws {FxiaokeApiError} not found / not visible; 15002 for an unknown object.
   */
  get(apiName: string, id: string, actor: Actor): StoredRecord {
    this.#registry.require(apiName);
    const record = this.#store.get(apiName, id);
    if (!record || !this.#visible(record, actor)) throw dataNotFound(apiName, id);
    return record;
  }

  /**
   * Run `search_query_info`. Invalidated records are hidden unless a filter names `life_status` or
   * `is_deleted` (ASSUMPTION: like the CRM list views, which show the recycle bin separately).
   * @throws {FxiaokeApiError} 10013 / 15002 for bad paging, fields or operators.
   */
  query(
    apiName: string,
    info: SearchQueryInfo,
    actor: Actor,
  ): { page: StoredRecord[]; total: number; limit: number; offset: number } {
    const object = this.#registry.require(apiName);
    const query = compileQuery(object, info, this.#directory);
    const visible = (record: StoredRecord): boolean =>
      this.#visible(record, actor) && (query.mentionsLifeStatus || record.is_deleted !== true);
    const { page, total } = runQuery(this.#candidates(object, query.filters), query, visible);
    return { page, total, limit: query.limit, offset: query.offset };
  }

  /** Use the master → detail index when a filter pins the master lookup (e.g. `order_id IN [...]`). */
  #candidates(
    object: CompiledObject,
    filters: ReturnType<typeof compileQuery>['filters'],
  ): Iterable<StoredRecord> {
    const masterField = object.masterField?.apiName;
    const pinned = filters.find(
      (filter) =>
        filter.field.apiName === masterField && (filter.operator === 'EQ' || filter.operator === 'IN'),
    );
    if (!pinned) return this.#store.records(object.apiName);
    return pinned.values.flatMap((masterId) => this.#store.details(object.apiName, String(masterId)));
  }

  /** Records of an object, for the control endpoint (no permissions, invalidated included). */
  list(apiName: string): StoredRecord[] {
    return [...this.#store.records(apiName)];
  }

  /** Detail rows of a master record, keyed by detail apiName. */
  detailsOf(apiName: string, id: string): Record<string, StoredRecord[]> {
    const object = this.#registry.get(apiName);
    const out: Record<string, StoredRecord[]> = {};
    for (const detailApiName of object?.detailApiNames ?? []) {
      out[detailApiName] = this.#store.details(detailApiName, id);
    }
    return out;
  }

  /**
   * A stored record in wire shape: employee ids converted when `convertUserId`, `<lookup>__r` display
   * names added (spec §5.1), restricted to `projection` (plus `_id`) when given.
   */
  present(apiName: string, record: StoredRecord, options: PresentOptions): Record<string, unknown> {
    const object = this.#registry.get(apiName);
    const keys = options.projection ? new Set(['_id', ...options.projection]) : Object.keys(record);
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      if (!(key in record)) continue;
      const value = record[key];
      const field = object?.fields.get(key);
      if (field?.type === 'employee' && Array.isArray(value)) {
        const ids = value.map(String);
        out[key] = options.convertUserId ? ids.map((id) => this.#directory.toOpenUserId(id)) : ids;
        const first = ids[0];
        if (first !== undefined) {
          out[`${key}__r`] = {
            id: options.convertUserId ? this.#directory.toOpenUserId(first) : first,
            name: this.#directory.nameOf(first),
          };
        }
        continue;
      }
      out[key] = value;
      if (
        (field?.type === 'object_reference' || field?.type === 'master_detail') &&
        typeof value === 'string'
      ) {
        const target = field.target ? this.#store.get(field.target, value) : undefined;
        out[`${key}__r`] = typeof target?.name === 'string' ? target.name : null;
      }
    }
    return out;
  }

  // ── writes ─────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Create a record (and, for a master, its detail rows).
   * @throws {FxiaokeApiError} FX_CODE_DATA_VALIDATION for required/bad fields or missing lookup targets;
   *   15002 for an unknown object or a detail apiName that is not a detail of this object.
   */
  create(
    apiName: string,
    input: Readonly<Record<string, unknown>>,
    details: DetailInput | undefined,
    options: WriteOptions,
  ): { dataId: string; detailIds: Record<string, string[]>; events: ChangeEvent[] } {
    const object = this.#registry.require(apiName);
    const now = this.#clock();
    const tx = new Transaction(this.#store);
    const masterOwner = object.masterField ? this.#masterOwner(object, input, tx) : undefined;
    const record = this.#buildNew(object, input, options, tx, now, masterOwner);
    const id = String(record._id);
    tx.put(apiName, record);
    const detailIds: Record<string, string[]> = {};
    for (const [detailApiName, rows] of Object.entries(details ?? {})) {
      const detail = this.#detailObject(object, detailApiName);
      const masterField = detail.masterField?.apiName ?? '';
      detailIds[detailApiName] = rows.map((row) => {
        const built = this.#buildNew(detail, { ...row, [masterField]: id }, options, tx, now, record.owner);
        this.#checkReferences(detail, built, tx);
        tx.put(detailApiName, built);
        return String(built._id);
      });
    }
    this.#checkReferences(object, record, tx);
    tx.put(apiName, this.#withSums(object, record, tx));
    const events: ChangeEvent[] = [{ apiName, dataId: id, kind: 'create', changedAtMs: now }];
    const masterEvent = this.#refreshMaster(object, record, tx, options.actor, now);
    this.#store.commit(tx.changes());
    // A detail row created on its own changes its master: the push names the master (see docs).
    return { dataId: id, detailIds, events: masterEvent ? [masterEvent] : events };
  }

  /**
   * Partial update of one record by `_id`; for a master, `details` rows with `_id` are updated, rows without
   * are created, and omitted rows follow {@link DetailUpdateMode}.
   * @throws {FxiaokeApiError} not found, locked, invalidated, or validation failures.
   */
  update(
    apiName: string,
    input: Readonly<Record<string, unknown>>,
    details: DetailInput | undefined,
    options: WriteOptions,
  ): { dataId: string; events: ChangeEvent[] } {
    const object = this.#registry.require(apiName);
    const id = typeof input._id === 'string' ? input._id : '';
    const now = this.#clock();
    const tx = new Transaction(this.#store);
    const existing = this.#writable(object, id, options, tx);
    const next: MutableRecord = { ...existing };
    this.#applyInput(object, next, input, options);
    this.#touch(next, options.actor, now);
    this.#computeLine(object, next);
    this.#checkRequired(object, next);
    this.#checkReferences(object, next, tx);
    tx.put(apiName, next);
    for (const [detailApiName, rows] of Object.entries(details ?? {})) {
      this.#updateDetails(object, next, detailApiName, rows, options, tx, now);
    }
    // Owner changes on a master carry over to its detail rows.
    if (object.detailApiNames.length > 0) this.#cascadeOwner(object, next, tx);
    tx.put(apiName, this.#withSums(object, next, tx));
    const masterEvent = this.#refreshMaster(object, next, tx, options.actor, now);
    this.#store.commit(tx.changes());
    return {
      dataId: id,
      events: [masterEvent ?? { apiName, dataId: id, kind: 'update', changedAtMs: now }],
    };
  }

  /**
   * 作废: `life_status` → `invalid` (previous kept in `life_status_before_invalid`), `is_deleted` → true;
   * a master's detail rows go with it.
   * @throws {FxiaokeApiError} not found, or already invalid.
   */
  invalid(apiName: string, ids: readonly string[], options: WriteOptions): ChangeEvent[] {
    const object = this.#registry.require(apiName);
    const now = this.#clock();
    const tx = new Transaction(this.#store);
    const events: ChangeEvent[] = [];
    for (const id of ids) {
      const existing = this.#existing(object, id, options.actor, tx);
      if (existing.is_deleted === true) {
        throw validationFailed(`数据 ${id} 已作废`, `${apiName} ${id} is already invalid`);
      }
      const next = this.#invalidated(existing, options.actor, now);
      tx.put(apiName, next);
      for (const detailApiName of object.detailApiNames) {
        const detail = this.#registry.require(detailApiName);
        for (const row of tx.detailsOf(detailApiName, detail.masterField?.apiName ?? '', id)) {
          if (row.is_deleted !== true) tx.put(detailApiName, this.#invalidated(row, options.actor, now));
        }
      }
      events.push(
        this.#refreshMaster(object, next, tx, options.actor, now) ?? {
          apiName,
          dataId: id,
          kind: 'invalid',
          changedAtMs: now,
        },
      );
    }
    this.#store.commit(tx.changes());
    return events;
  }

  /**
   * Undo 作废 (with the master's detail rows).
   * @throws {FxiaokeApiError} not found, or not invalid.
   */
  recover(apiName: string, ids: readonly string[], options: WriteOptions): ChangeEvent[] {
    const object = this.#registry.require(apiName);
    const now = this.#clock();
    const tx = new Transaction(this.#store);
    const events: ChangeEvent[] = [];
    for (const id of ids) {
      const existing = this.#existing(object, id, options.actor, tx);
      if (existing.is_deleted !== true) {
        throw validationFailed(`数据 ${id} 未作废，无需恢复`, `${apiName} ${id} is not invalid`);
      }
      if (object.masterField) {
        const masterId = existing[object.masterField.apiName];
        const master =
          typeof masterId === 'string' && object.masterField.target
            ? tx.get(object.masterField.target, masterId)
            : undefined;
        if (!master || master.is_deleted === true) {
          throw validationFailed('主对象数据已作废，不能恢复从对象', `the master record of ${id} is invalid`);
        }
      }
      const next = this.#recovered(existing, options.actor, now);
      tx.put(apiName, next);
      for (const detailApiName of object.detailApiNames) {
        const detail = this.#registry.require(detailApiName);
        for (const row of tx.detailsOf(detailApiName, detail.masterField?.apiName ?? '', id)) {
          if (row.is_deleted === true) tx.put(detailApiName, this.#recovered(row, options.actor, now));
        }
      }
      events.push(
        this.#refreshMaster(object, next, tx, options.actor, now) ?? {
          apiName,
          dataId: id,
          kind: 'recover',
          changedAtMs: now,
        },
      );
    }
    this.#store.commit(tx.changes());
    return events;
  }

  /**
   * Hard delete; only invalidated records ("invalidate data before deletion", spec §4.5).
   * @throws {FxiaokeApiError} not found, or not invalidated first.
   */
  delete(apiName: string, ids: readonly string[], options: WriteOptions): ChangeEvent[] {
    const object = this.#registry.require(apiName);
    const now = this.#clock();
    const tx = new Transaction(this.#store);
    const events: ChangeEvent[] = [];
    for (const id of ids) {
      const existing = this.#existing(object, id, options.actor, tx);
      if (existing.is_deleted !== true) {
        throw validationFailed(
          `数据 ${id} 未作废，请先作废再删除`,
          `${apiName} ${id} must be invalidated before deletion`,
        );
      }
      tx.delete(apiName, id);
      for (const detailApiName of object.detailApiNames) {
        const detail = this.#registry.require(detailApiName);
        for (const row of tx.detailsOf(detailApiName, detail.masterField?.apiName ?? '', id)) {
          tx.delete(detailApiName, String(row._id));
        }
      }
      events.push(
        this.#refreshMaster(object, existing, tx, options.actor, now) ?? {
          apiName,
          dataId: id,
          kind: 'delete',
          changedAtMs: now,
        },
      );
    }
    this.#store.commit(tx.changes());
    return events;
  }

  /**
   * Give records a new owner (detail rows follow their master).
   * @throws {FxiaokeApiError} not found, invalidated, or an unknown employee.
   */
  changeOwner(
    apiName: string,
    items: readonly { id: string; owner: unknown }[],
    options: WriteOptions,
  ): ChangeEvent[] {
    const object = this.#registry.require(apiName);
    const ownerField = object.fields.get('owner');
    const now = this.#clock();
    const tx = new Transaction(this.#store);
    const events: ChangeEvent[] = [];
    for (const item of items) {
      const existing = this.#writable(object, item.id, options, tx);
      const owner = ownerField ? normalizeFieldValue(object, ownerField, item.owner, this.#directory) : null;
      if (!Array.isArray(owner) || owner.length === 0) {
        throw validationFailed('负责人不能为空', 'ownerId must name one employee');
      }
      const next: MutableRecord = { ...existing, owner };
      this.#touch(next, options.actor, now);
      tx.put(apiName, next);
      this.#cascadeOwner(object, next, tx);
      events.push({ apiName, dataId: item.id, kind: 'update', changedAtMs: now });
    }
    this.#store.commit(tx.changes());
    return events;
  }

  /**
   * Finish the approval flow of a record that is `under_review`: approved → `normal`, rejected →
   * `ineffective` (a new record whose creation was not approved, spec §5.1); unlocked either way.
   * @throws {FxiaokeApiError} not found, or not under review.
   */
  finishApproval(apiName: string, id: string, approved: boolean, actor: Actor): ChangeEvent[] {
    const object = this.#registry.require(apiName);
    const now = this.#clock();
    const tx = new Transaction(this.#store);
    const existing = this.#existing(object, id, actor, tx);
    if (existing.life_status !== 'under_review') {
      throw validationFailed(`数据 ${id} 不在审批中`, `${apiName} ${id} is not under review`);
    }
    const next: MutableRecord = {
      ...existing,
      life_status: approved ? 'normal' : 'ineffective',
      lock_status: '0',
    };
    this.#touch(next, actor, now);
    tx.put(apiName, next);
    this.#store.commit(tx.changes());
    return [{ apiName, dataId: id, kind: 'update', changedAtMs: now }];
  }

  /**
   * Insert many records of one object at once (control endpoint / tests): validated like create, committed
   * in one batch, no change events. `create_time`, `created_by` and `last_modified_time` may be given.
   * @throws {FxiaokeApiError} on the first invalid row; nothing is inserted then.
   */
  bulkInsert(apiName: string, rows: readonly Readonly<Record<string, unknown>>[], actor: Actor): string[] {
    const object = this.#registry.require(apiName);
    const now = this.#clock();
    const tx = new Transaction(this.#store);
    const options: WriteOptions = { actor, hasSpecifyTime: true, hasSpecifyCreatedBy: true };
    const ids = rows.map((row) => {
      const masterOwner = object.masterField ? this.#masterOwner(object, row, tx) : undefined;
      const record = this.#buildNew(object, row, options, tx, now, masterOwner);
      // Seeding history: a given last_modified_time is kept (create_time already is, via hasSpecifyTime).
      if (typeof row.last_modified_time === 'number' && Number.isInteger(row.last_modified_time)) {
        record.last_modified_time = row.last_modified_time;
      }
      this.#checkReferences(object, record, tx);
      tx.put(apiName, record);
      return String(record._id);
    });
    const masterField = object.masterField;
    if (masterField?.target) {
      const masterObject = this.#registry.require(masterField.target);
      const masterIds = new Set(
        rows.map((row) => row[masterField.apiName]).filter((v) => typeof v === 'string'),
      );
      for (const masterId of masterIds) {
        const master = tx.get(masterField.target, masterId);
        if (master) tx.put(masterField.target, this.#withSums(masterObject, master, tx));
      }
    }
    this.#store.commit(tx.changes());
    return ids;
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────────────────

  #visible(record: StoredRecord, actor: Actor): boolean {
    if (actor.bypassPermissions || this.#directory.isAdmin(actor.employeeId)) return true;
    return Array.isArray(record.owner) && record.owner.includes(actor.employeeId);
  }

  #existing(object: CompiledObject, id: string, actor: Actor, tx: Transaction): StoredRecord {
    const record = id ? tx.get(object.apiName, id) : undefined;
    if (!record || !this.#visible(record, actor)) throw dataNotFound(object.apiName, id);
    return record;
  }

  /** An existing record that may be changed now (not invalidated, not locked unless allowed). */
  #writable(object: CompiledObject, id: string, options: WriteOptions, tx: Transaction): StoredRecord {
    const existing = this.#existing(object, id, options.actor, tx);
    if (existing.is_deleted === true) {
      throw validationFailed(
        `数据 ${id} 已作废，不能编辑`,
        `${object.apiName} ${id} is invalid and cannot be edited`,
      );
    }
    if (existing.lock_status === '1' && !options.skipDataStatusValidate) {
      throw validationFailed(
        `数据 ${id} 已锁定，不能编辑`,
        `${object.apiName} ${id} is locked (pass skipDataStatusValidate to change locked data)`,
      );
    }
    return existing;
  }

  #detailObject(master: CompiledObject, detailApiName: string): CompiledObject {
    if (!master.detailApiNames.includes(detailApiName)) {
      throw invalidParameter(
        `${detailApiName} 不是 ${master.apiName} 的从对象`,
        `${detailApiName} is not a detail object of ${master.apiName} (details: ${master.detailApiNames.join(', ') || 'none'})`,
      );
    }
    return this.#registry.require(detailApiName);
  }

  /** Owner of the master a standalone detail row points to (detail rows always share it). */
  #masterOwner(object: CompiledObject, input: Readonly<Record<string, unknown>>, tx: Transaction): unknown {
    const field = object.masterField;
    const masterId = field ? input[field.apiName] : undefined;
    if (!field?.target || typeof masterId !== 'string') return undefined;
    return tx.get(field.target, masterId)?.owner;
  }

  /** Copy the writable fields of `input` onto `target`, normalised. */
  #applyInput(
    object: CompiledObject,
    target: MutableRecord,
    input: Readonly<Record<string, unknown>>,
    options: WriteOptions,
    creating = false,
  ): void {
    for (const [key, raw] of Object.entries(input)) {
      if (SYSTEM_INPUT_KEYS.has(key)) continue;
      const field = object.fields.get(key);
      // ASSUMPTION (spec: UNKNOWN): unknown fields and `<field>__r` display values are ignored, as a CRM
      // form ignores what it does not know; read-only system fields likewise.
      if (!field) continue;
      const specified =
        creating &&
        ((key === 'create_time' && options.hasSpecifyTime) ||
          (key === 'created_by' && options.hasSpecifyCreatedBy));
      if (field.readOnly && !specified) continue;
      // The master of a detail row is fixed once created.
      if (!creating && field.type === 'master_detail') continue;
      target[key] = normalizeFieldValue(object, field, raw, this.#directory);
    }
  }

  #buildNew(
    object: CompiledObject,
    input: Readonly<Record<string, unknown>>,
    options: WriteOptions,
    tx: Transaction,
    now: number,
    masterOwner: unknown,
  ): MutableRecord {
    const record: MutableRecord = {};
    this.#applyInput(object, record, input, options, true);
    for (const field of object.fields.values()) {
      if (field.defaultValue === undefined || field.readOnly || !isEmptyValue(record[field.apiName]))
        continue;
      const value = field.defaultValue === '$today$' ? startOfDayGmt8(now) : field.defaultValue;
      record[field.apiName] = normalizeFieldValue(object, field, value, this.#directory);
    }
    const actorId = options.actor.employeeId;
    const defaultOwner = actorId === SYSTEM_USER_ID ? ADMIN_EMPLOYEE_ID : actorId;
    const owner =
      Array.isArray(masterOwner) && masterOwner.length > 0
        ? masterOwner
        : Array.isArray(record.owner) && record.owner.length > 0
          ? record.owner
          : [defaultOwner];
    const ownerDepartment = this.#directory.find(String(owner[0]))?.departmentId ?? WHOLE_COMPANY_DEPARTMENT;
    let id = newRecordId(now);
    while (tx.get(object.apiName, id)) id = newRecordId(now);
    Object.assign(record, {
      _id: id,
      object_describe_api_name: object.apiName,
      tenant_id: this.#tenantId,
      owner,
      data_own_department: isEmptyValue(record.data_own_department)
        ? [ownerDepartment]
        : record.data_own_department,
      created_by: isEmptyValue(record.created_by) ? [actorId] : record.created_by,
      create_time: typeof record.create_time === 'number' ? record.create_time : now,
      last_modified_by: [actorId],
      last_modified_time: now,
      life_status: options.startApproval ? 'under_review' : 'normal',
      // Fxiaoke locks a record while its approval runs.
      lock_status: options.startApproval ? '1' : (record.lock_status ?? '0'),
      record_type: record.record_type ?? 'default__c',
      version: '1',
      is_deleted: false,
    });
    for (const field of object.fields.values()) {
      if (field.type === 'auto_number' && field.autoNumber)
        record[field.apiName] = this.#nextNumber(object, field, tx, now);
    }
    this.#computeLine(object, record);
    this.#checkRequired(object, record);
    return record;
  }

  #nextNumber(object: CompiledObject, field: CompiledField, tx: Transaction, now: number): string {
    const rule = field.autoNumber;
    if (!rule) return '';
    const date = rule.dateFormat === 'none' ? '' : dateStampGmt8(now);
    const serial = tx.nextCounter(
      `${object.apiName}.${field.apiName}.${rule.reset === 'daily' ? date : 'all'}`,
    );
    const head = `${rule.prefix}${date}`;
    return `${head}${head ? rule.separator : ''}${String(serial).padStart(rule.serialDigits, '0')}`;
  }

  #touch(record: MutableRecord, actor: Actor, now: number): void {
    record.version = String((parseDecimal(record.version) ?? 0) + 1);
    // Strictly increasing per record, even when the injected clock stands still: sync watermarks compare it.
    const previous = typeof record.last_modified_time === 'number' ? record.last_modified_time : 0;
    record.last_modified_time = Math.max(now, previous + 1);
    record.last_modified_by = [actor.employeeId];
  }

  #checkRequired(object: CompiledObject, record: StoredRecord): void {
    const missing = [...object.fields.values()].filter(
      (field) =>
        field.required &&
        !field.readOnly &&
        field.type !== 'master_detail' &&
        isEmptyValue(record[field.apiName]),
    );
    if (missing.length > 0) {
      const names = missing.map((field) => `${field.label}(${field.apiName})`).join('、');
      throw validationFailed(
        `${object.displayName} 必填字段未填写：${names}`,
        `required field(s) of ${object.apiName} missing: ${missing.map((f) => f.apiName).join(', ')}`,
      );
    }
  }

  #checkReferences(object: CompiledObject, record: StoredRecord, tx: Transaction): void {
    for (const field of object.fields.values()) {
      if (field.type !== 'object_reference' && field.type !== 'master_detail') continue;
      const value = record[field.apiName];
      if (value === null || value === undefined) {
        if (field.type === 'master_detail') {
          throw validationFailed(
            `${object.displayName} 缺少主对象 ${field.label}(${field.apiName})`,
            `${object.apiName} needs its master record in ${field.apiName}`,
          );
        }
        continue;
      }
      const target = field.target ? tx.get(field.target, String(value)) : undefined;
      if (!target || target.is_deleted === true) {
        const targetName = this.#registry.get(field.target ?? '')?.displayName ?? field.target;
        throw validationFailed(
          `${field.label}(${field.apiName}) 关联的${targetName}数据 ${String(value)} 不存在或已作废`,
          `${field.apiName} refers to ${field.target} ${String(value)}, which does not exist or is invalid`,
        );
      }
    }
  }

  #computeLine(object: CompiledObject, record: MutableRecord): void {
    for (const field of object.fields.values()) {
      const compute = field.compute;
      if (compute?.kind !== 'line_amount') continue;
      const quantity = parseDecimal(record[compute.quantity]);
      const price = parseDecimal(record[compute.price]);
      const discount = compute.discount === undefined ? 100 : (parseDecimal(record[compute.discount]) ?? 100);
      record[field.apiName] =
        quantity === undefined || price === undefined
          ? null
          : formatDecimal((quantity * price * discount) / 100, field.decimalPlaces);
    }
  }

  /** The record with its detail_sum fields recomputed from its live detail rows in `tx`. */
  #withSums(object: CompiledObject, record: StoredRecord, tx: Transaction): StoredRecord {
    let out: MutableRecord | undefined;
    for (const field of object.fields.values()) {
      const compute = field.compute;
      if (compute?.kind !== 'detail_sum') continue;
      const detail = this.#registry.require(compute.detail);
      let sum = 0;
      for (const row of tx.detailsOf(compute.detail, detail.masterField?.apiName ?? '', String(record._id))) {
        if (row.is_deleted !== true) sum += parseDecimal(row[compute.field]) ?? 0;
      }
      out ??= { ...record };
      out[field.apiName] = formatDecimal(sum, field.decimalPlaces);
    }
    return out ?? record;
  }

  /**
   * When `record` is a detail row, recompute and touch its master and return the master's change event
   * (detail-row changes are reported as a change of the master).
   */
  #refreshMaster(
    object: CompiledObject,
    record: StoredRecord,
    tx: Transaction,
    actor: Actor,
    now: number,
  ): ChangeEvent | undefined {
    const field = object.masterField;
    const masterId = field ? record[field.apiName] : undefined;
    if (!field?.target || typeof masterId !== 'string') return undefined;
    const masterObject = this.#registry.require(field.target);
    const master = tx.get(field.target, masterId);
    if (!master) return undefined;
    const next: MutableRecord = { ...this.#withSums(masterObject, master, tx) };
    this.#touch(next, actor, now);
    tx.put(field.target, next);
    return { apiName: field.target, dataId: masterId, kind: 'update', changedAtMs: now };
  }

  #updateDetails(
    master: CompiledObject,
    masterRecord: StoredRecord,
    detailApiName: string,
    rows: readonly Readonly<Record<string, unknown>>[],
    options: WriteOptions,
    tx: Transaction,
    now: number,
  ): void {
    const detail = this.#detailObject(master, detailApiName);
    const masterField = detail.masterField?.apiName ?? '';
    const masterId = String(masterRecord._id);
    const current = new Map(
      tx.detailsOf(detailApiName, masterField, masterId).map((row) => [String(row._id), row]),
    );
    const kept = new Set<string>();
    for (const row of rows) {
      const rowId = typeof row._id === 'string' && row._id !== '' ? row._id : undefined;
      if (rowId === undefined) {
        const built = this.#buildNew(
          detail,
          { ...row, [masterField]: masterId },
          options,
          tx,
          now,
          masterRecord.owner,
        );
        this.#checkReferences(detail, built, tx);
        tx.put(detailApiName, built);
        kept.add(String(built._id));
        continue;
      }
      const existing = current.get(rowId);
      if (!existing) {
        throw validationFailed(
          `${detail.displayName} 数据 ${rowId} 不属于 ${master.displayName} ${masterId}`,
          `${detailApiName} ${rowId} is not a detail row of ${master.apiName} ${masterId}`,
        );
      }
      const next: MutableRecord = { ...existing };
      this.#applyInput(detail, next, row, options);
      this.#touch(next, options.actor, now);
      this.#computeLine(detail, next);
      this.#checkRequired(detail, next);
      this.#checkReferences(detail, next, tx);
      tx.put(detailApiName, next);
      kept.add(rowId);
    }
    if ((options.detailUpdateMode ?? this.#detailUpdateMode) === 'replace') {
      for (const id of current.keys()) if (!kept.has(id)) tx.delete(detailApiName, id);
    }
  }

  #cascadeOwner(object: CompiledObject, master: StoredRecord, tx: Transaction): void {
    for (const detailApiName of object.detailApiNames) {
      const detail = this.#registry.require(detailApiName);
      for (const row of tx.detailsOf(detailApiName, detail.masterField?.apiName ?? '', String(master._id))) {
        if (JSON.stringify(row.owner) !== JSON.stringify(master.owner)) {
          tx.put(detailApiName, {
            ...row,
            owner: master.owner,
            data_own_department: master.data_own_department,
          });
        }
      }
    }
  }

  #invalidated(record: StoredRecord, actor: Actor, now: number): StoredRecord {
    const next: MutableRecord = {
      ...record,
      life_status_before_invalid: record.life_status ?? 'normal',
      life_status: 'invalid',
      is_deleted: true,
    };
    this.#touch(next, actor, now);
    return next;
  }

  #recovered(record: StoredRecord, actor: Actor, now: number): StoredRecord {
    const before = record.life_status_before_invalid;
    const next: MutableRecord = {
      ...record,
      life_status: typeof before === 'string' && before !== 'invalid' ? before : 'normal',
      life_status_before_invalid: null,
      is_deleted: false,
    };
    this.#touch(next, actor, now);
    return next;
  }
}

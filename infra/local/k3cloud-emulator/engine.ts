/**
 * The generic engine: Save (and BatchSave / Draft) over any form described in `forms.ts`, plus the lookups
 * every other operation shares (records by number, reference resolution, defaults, computations,
 * validation). Operations return K3 envelopes; business failures travel as {@link K3Failure}.
 *
 * Save semantics (spec §4.1, §5): PK 0 = create, an existing internal id = update; references are
 * `{"FNumber": …}` objects; entries are arrays whose rows carry `FEntryID`; `NeedUpDateFields` limits which
 * fields an update touches; `IsDeleteEntry` (default **true**) deletes existing rows missing from the Model;
 * `IsAutoSubmitAndAudit` saves straight to audited and is rejected on update.
 */
import { createHash } from 'node:crypto';
import { failureEnvelope, K3Failure, type K3Message, MSG, responseStatus } from './envelope.ts';
import {
  AUDITED_NO_EDIT,
  duplicateNumber,
  entryRowsRequired,
  OURS,
  recordNotFound,
  referenceInvalid,
  referenceNotFound,
  requiredField,
  SUBMITTED_NO_EDIT,
  UNKNOWN_FORM,
  unknownField,
} from './messages.ts';
import type { EntityMeta, FieldMeta, FieldValue, FormRegistry, IndexedForm } from './metadata.ts';
import type { RecordStore, StoredRecord, StoredRow } from './store.ts';
import {
  flag,
  formatDateTime,
  formatToday,
  getCI,
  isPlainObject,
  normalizeDate,
  parseBoolean,
  parseNumber,
  round,
} from './values.ts';

/** What an operation needs to know about the moment and the caller. */
export interface OperationContext {
  now: number;
  username: string;
}

export interface EngineOptions {
  registry: FormRegistry;
  store: RecordStore;
  utcOffsetMinutes: number;
}

interface SaveFlags {
  /** lower-case field / entity keys; null = update every field given */
  needUpdate: Set<string> | null;
  needReturn: string[];
  isDeleteEntry: boolean;
  verifyBaseData: boolean;
  autoAudit: boolean;
  validate: boolean;
  repeatCheck: boolean;
}

/** A message plus the MsgCode it stands for; the first one's code becomes the envelope's MsgCode. */
interface Problem {
  message: K3Message;
  code: number;
}

interface RowContext {
  entity: string;
  row: number;
}

const RECENT_PACKAGES_KEPT = 1_000;

export class Engine {
  readonly registry: FormRegistry;
  readonly store: RecordStore;
  readonly utcOffsetMinutes: number;
  readonly #recentPackages = new Set<string>();

  constructor(options: EngineOptions) {
    this.registry = options.registry;
    this.store = options.store;
    this.utcOffsetMinutes = options.utcOffsetMinutes;
  }

  // ── shared lookups ────────────────────────────────────────────────────────────────────────────────

  /**
   * The form for a client-supplied FormId.
   * @throws {K3Failure} `业务对象不存在` (MsgCode 4, ASSUMPTION: the code is not in any capture).
   */
  form(formId: unknown): IndexedForm {
    const form = typeof formId === 'string' ? this.registry.get(formId) : undefined;
    if (!form) throw new K3Failure(UNKNOWN_FORM, MSG.exception);
    return form;
  }

  now(ctx: OperationContext): string {
    return formatDateTime(ctx.now, this.utcOffsetMinutes);
  }

  numberOf(form: IndexedForm, record: StoredRecord): string {
    const value = record.values[form.meta.numberKey];
    return typeof value === 'string' ? value : '';
  }

  /**
   * Records with this number. For organisation-controlled base data several records share a number (one per
   * use organisation, spec §4.9): the one used by `orgId` wins, else the master (created) record.
   */
  findByNumber(form: IndexedForm, number: string, orgId = 0): StoredRecord | undefined {
    const ids = this.store.idsByNumber(form.meta.formId, number);
    const records = ids
      .map((id) => this.store.get(form.meta.formId, id))
      .filter((r): r is StoredRecord => r !== undefined);
    if (records.length <= 1) return records[0];
    const useOrgKey = form.meta.useOrgKey;
    if (useOrgKey && orgId) {
      const inOrg = records.find((r) => r.values[useOrgKey] === orgId);
      if (inOrg) return inOrg;
    }
    return records.find((r) => r.masterId === r.id) ?? records[0];
  }

  /** Records addressed by `Numbers` (array) and `Ids` (comma string), in request order, with their DIndex. */
  selectRecords(
    form: IndexedForm,
    numbers: readonly string[],
    ids: readonly number[],
  ): { found: { record: StoredRecord; dIndex: number }[]; missing: { key: string; dIndex: number }[] } {
    const found: { record: StoredRecord; dIndex: number }[] = [];
    const missing: { key: string; dIndex: number }[] = [];
    const seen = new Set<number>();
    let dIndex = 0;
    for (const number of numbers) {
      const record = this.findByNumber(form, number);
      if (record && !seen.has(record.id)) {
        seen.add(record.id);
        found.push({ record, dIndex });
      } else if (!record) missing.push({ key: number, dIndex });
      dIndex += 1;
    }
    for (const id of ids) {
      const record = this.store.get(form.meta.formId, id);
      if (record && !seen.has(record.id)) {
        seen.add(record.id);
        found.push({ record, dIndex });
      } else if (!record) missing.push({ key: String(id), dIndex });
      dIndex += 1;
    }
    return { found, missing };
  }

  /** A deep copy that an operation may change before committing it. */
  clone(record: StoredRecord): StoredRecord {
    return {
      id: record.id,
      masterId: record.masterId,
      values: { ...record.values },
      entries: Object.fromEntries(
        Object.entries(record.entries).map(([key, rows]) => [
          key,
          rows.map((row) => ({
            id: row.id,
            values: { ...row.values },
            ...(row.link ? { link: { ...row.link } } : {}),
          })),
        ]),
      ),
    };
  }

  /** An empty record of a form: every field at its type's empty value. */
  blankRecord(form: IndexedForm, id: number): StoredRecord {
    const values: Record<string, FieldValue> = {};
    for (const { field, entity } of form.allFields) {
      if (entity === null || entity.kind === 'subhead') values[field.key] = emptyValue(field);
    }
    const entries: Record<string, StoredRow[]> = {};
    for (const entry of form.entries) entries[entry.key] = [];
    return { id, masterId: id, values, entries };
  }

  blankRow(entry: EntityMeta, id: number): StoredRow {
    const values: Record<string, FieldValue> = {};
    for (const field of entry.fields) values[field.key] = emptyValue(field);
    return { id, values };
  }

  // ── Save / BatchSave / Draft ──────────────────────────────────────────────────────────────────────

  /** `DynamicFormService.Save`: one Model. */
  save(formId: unknown, data: unknown, ctx: OperationContext, mode: 'save' | 'draft' = 'save'): unknown {
    try {
      const form = this.form(formId);
      const parameters = requireObject(data, 'data');
      const flags = parseSaveFlags(parameters);
      const model = getCI(parameters, 'Model');
      if (model === undefined || model === null) {
        throw new K3Failure(OURS.missingParameter('Model'), MSG.badParameter);
      }
      const record = this.#saveOne(form, model, flags, ctx, mode, 0);
      const number = this.numberOf(form, record);
      return {
        Result: {
          ResponseStatus: responseStatus({ successEntities: [{ Id: record.id, Number: number, DIndex: 0 }] }),
          Id: record.id,
          Number: number,
          NeedReturnData: [this.needReturnData(form, record, flags.needReturn)],
        },
      };
    } catch (error) {
      return failureFrom(error);
    }
  }

  /**
   * `DynamicFormService.BatchSave`: Model is an array; each package is saved on its own and failures are
   * reported by DIndex while the others commit (spec §4.2 "partial success is possible" — ASSUMPTION).
   */
  batchSave(formId: unknown, data: unknown, ctx: OperationContext): unknown {
    try {
      const form = this.form(formId);
      const parameters = requireObject(data, 'data');
      const flags = parseSaveFlags(parameters);
      const models = getCI(parameters, 'Model');
      if (!Array.isArray(models)) {
        throw new K3Failure(
          OURS.badParameter('Model', 'BatchSave 需要数组 / must be an array'),
          MSG.badParameter,
        );
      }
      const errors: K3Message[] = [];
      const successEntities: { Id: number; Number: string; DIndex: number }[] = [];
      const needReturnData: unknown[] = [];
      let msgCode: number = MSG.ok;
      models.forEach((model, dIndex) => {
        try {
          const record = this.#saveOne(form, model, flags, ctx, 'save', dIndex);
          successEntities.push({ Id: record.id, Number: this.numberOf(form, record), DIndex: dIndex });
          needReturnData.push(this.needReturnData(form, record, flags.needReturn));
        } catch (error) {
          if (!(error instanceof K3Failure)) throw error;
          if (msgCode === MSG.ok) msgCode = error.msgCode;
          for (const e of error.errors) errors.push({ ...e, DIndex: dIndex });
        }
      });
      return {
        Result: {
          ResponseStatus: responseStatus({ errors, successEntities, msgCode }),
          NeedReturnData: needReturnData,
        },
      };
    } catch (error) {
      return failureFrom(error);
    }
  }

  /** Seed one record through the same path as Save, then force its status (and optionally its id). */
  seed(
    formId: string,
    model: Record<string, unknown>,
    options: { id?: number; status?: string },
    now: number,
  ): void {
    const form = this.registry.require(formId);
    const ctx: OperationContext = { now, username: 'seed' };
    const flags = parseSaveFlags({});
    const record = this.#buildFromModel(form, model, flags, ctx, 'save', options.id);
    const status = options.status ?? 'C';
    if (form.statusKey) record.values[form.statusKey] = status;
    if (options.id !== undefined) this.store.reserveId(form.meta.formId, options.id);
    this.store.commit({ puts: [{ formId: form.meta.formId, record }], dels: [] });
  }

  #saveOne(
    form: IndexedForm,
    model: unknown,
    flags: SaveFlags,
    ctx: OperationContext,
    mode: 'save' | 'draft',
    dIndex: number,
  ): StoredRecord {
    if (flags.repeatCheck) {
      const digest = createHash('sha1')
        .update(`${form.meta.formId}\n${JSON.stringify(model)}`)
        .digest('hex');
      if (this.#recentPackages.has(digest)) throw new K3Failure(OURS.repeatedPackage, MSG.validation);
      this.#recentPackages.add(digest);
      if (this.#recentPackages.size > RECENT_PACKAGES_KEPT) {
        const oldest = this.#recentPackages.values().next().value;
        if (oldest !== undefined) this.#recentPackages.delete(oldest);
      }
    }
    const record = this.#buildFromModel(form, model, flags, ctx, mode, undefined, dIndex);
    this.store.commit({ puts: [{ formId: form.meta.formId, record }], dels: [] });
    return record;
  }

  /**
   * Turn a Save Model into the record to store: parse, resolve, default, compute, number, validate.
   * @throws {K3Failure} with every problem found (required fields, unknown references, …).
   */
  #buildFromModel(
    form: IndexedForm,
    modelInput: unknown,
    flags: SaveFlags,
    ctx: OperationContext,
    mode: 'save' | 'draft',
    forcedId?: number,
    dIndex = 0,
  ): StoredRecord {
    const model = parseMaybeJson(modelInput, 'Model');
    if (!isPlainObject(model)) {
      throw new K3Failure(
        OURS.badParameter('Model', 'Model 必须是对象 / must be an object'),
        MSG.badParameter,
      );
    }
    const meta = form.meta;
    const pkRaw = getCI(model, meta.pkKey);
    const pk = pkRaw === undefined || pkRaw === null ? 0 : parseNumber(pkRaw);
    if (pk === undefined || !Number.isInteger(pk) || pk < 0) {
      throw new K3Failure(
        OURS.wrongType(meta.pkKey, meta.pkKey, '内码整数 / an integer id', JSON.stringify(pkRaw)),
        MSG.badParameter,
        meta.pkKey,
      );
    }
    const existing = pk > 0 ? this.store.get(meta.formId, pk) : undefined;
    if (pk > 0 && !existing) throw new K3Failure(recordNotFound(pk, meta.tableName), MSG.notFound);
    const isUpdate = existing !== undefined;
    if (existing && form.statusKey) {
      const status = existing.values[form.statusKey];
      if (status === 'C') throw new K3Failure(AUDITED_NO_EDIT, MSG.validation);
      if (status === 'B') throw new K3Failure(SUBMITTED_NO_EDIT, MSG.validation);
    }
    if (isUpdate && flags.autoAudit) throw new K3Failure(OURS.autoAuditOnUpdate, MSG.badParameter);

    const record = existing
      ? this.clone(existing)
      : this.blankRecord(form, forcedId ?? this.store.nextId(meta.formId));
    const problems: Problem[] = [];
    const supplied = new Set<string>();
    const touches = (key: string) =>
      !isUpdate || flags.needUpdate === null || flags.needUpdate.has(key.toLowerCase());

    // The context organisation scopes base-data lookups (allocated copies), so resolve it first.
    let contextOrg = 0;
    if (meta.contextOrgKey) {
      const orgField = form.fields.get(meta.contextOrgKey.toLowerCase())?.field;
      const raw = getCI(model, meta.contextOrgKey);
      if (orgField && raw !== undefined) {
        const value = this.#convert(orgField, raw, flags, 0, problems);
        if (value !== undefined) contextOrg = Number(value);
      } else {
        contextOrg = Number(record.values[meta.contextOrgKey] ?? 0);
      }
    }

    for (const [key, raw] of Object.entries(model)) {
      const lower = key.toLowerCase();
      if (lower === meta.pkKey.toLowerCase()) continue;
      const location = form.fields.get(lower);
      if (location) {
        if (location.entity !== null) {
          problems.push(
            problem(`实体不存在此属性！[EntityType：BillHead] ${unknownField(key)}`, MSG.fieldMissing, key),
          );
          continue;
        }
        if (location.field.system || !touches(location.field.key)) continue;
        const value = this.#convert(location.field, raw, flags, contextOrg, problems);
        if (value !== undefined) {
          record.values[location.field.key] = value;
          supplied.add(location.field.key);
        }
        continue;
      }
      const entity = form.entities.get(lower);
      if (entity?.kind === 'subhead') {
        this.#applySubhead(form, entity, raw, record, flags, contextOrg, touches, supplied, problems);
        continue;
      }
      if (entity?.kind === 'entry') {
        if (!touches(entity.key)) continue;
        this.#applyEntry(form, entity, raw, record, existing, flags, contextOrg, touches, supplied, problems);
        continue;
      }
      problems.push(problem(unknownField(key), MSG.fieldMissing, key));
    }
    throwIfAny(problems, dIndex);

    this.#applyDefaults(form, record, supplied, isUpdate, ctx);
    this.applyComputations(form, record);

    const now = this.now(ctx);
    if (!isUpdate) {
      if (form.statusKey)
        record.values[form.statusKey] = mode === 'draft' ? 'Z' : flags.autoAudit ? 'C' : 'A';
      if (form.forbidKey) record.values[form.forbidKey] = 'A';
      const cancel = form.allFields.find((l) => l.field.system === 'cancelStatus');
      if (cancel) record.values[cancel.field.key] = 'A';
      if (form.createDateKey) record.values[form.createDateKey] = now;
    } else if (form.statusKey && record.values[form.statusKey] === 'Z' && mode === 'save') {
      // Saving a draft (暂存) makes it a created bill.
      record.values[form.statusKey] = 'A';
    }
    if (form.modifyDateKey) record.values[form.modifyDateKey] = now;

    this.assignNumber(form, record, mode, problems);
    if (flags.validate && mode === 'save') this.validate(form, record, problems);
    throwIfAny(problems, dIndex);
    return record;
  }

  #applySubhead(
    form: IndexedForm,
    entity: EntityMeta,
    rawInput: unknown,
    record: StoredRecord,
    flags: SaveFlags,
    contextOrg: number,
    touches: (key: string) => boolean,
    supplied: Set<string>,
    problems: Problem[],
  ): void {
    // Some clients send a sub-header as a one-element array (View's shape); accept that too.
    const raw = Array.isArray(rawInput) && rawInput.length === 1 ? rawInput[0] : rawInput;
    if (raw === null || raw === undefined) return;
    if (!isPlainObject(raw)) {
      problems.push(
        problem(
          OURS.wrongType(entity.label, entity.key, '对象 / an object', typeName(raw)),
          MSG.badParameter,
          entity.key,
        ),
      );
      return;
    }
    for (const [key, value] of Object.entries(raw)) {
      const location = form.fields.get(key.toLowerCase());
      if (!location || location.entity !== entity) {
        problems.push(problem(unknownField(key), MSG.fieldMissing, key));
        continue;
      }
      if (location.field.system || !touches(location.field.key)) continue;
      const converted = this.#convert(location.field, value, flags, contextOrg, problems);
      if (converted !== undefined) {
        record.values[location.field.key] = converted;
        supplied.add(location.field.key);
      }
    }
  }

  #applyEntry(
    form: IndexedForm,
    entity: EntityMeta,
    raw: unknown,
    record: StoredRecord,
    existing: StoredRecord | undefined,
    flags: SaveFlags,
    contextOrg: number,
    touches: (key: string) => boolean,
    supplied: Set<string>,
    problems: Problem[],
  ): void {
    if (raw === null || raw === undefined) return;
    if (!Array.isArray(raw)) {
      problems.push(
        problem(
          OURS.wrongType(entity.label, entity.key, '数组 / an array', typeName(raw)),
          MSG.badParameter,
          entity.key,
        ),
      );
      return;
    }
    const table = `${form.meta.formId}.${entity.key}`;
    const oldRows = existing ? (record.entries[entity.key] ?? []) : [];
    const byId = new Map(oldRows.map((row) => [row.id, row]));
    const kept: StoredRow[] = [];
    const keptIds = new Set<number>();
    raw.forEach((rowInput, index) => {
      const rowContext = { entity: entity.label, row: index + 1 };
      if (!isPlainObject(rowInput)) {
        problems.push(
          problem(
            OURS.wrongType(entity.label, entity.key, '对象 / an object', typeName(rowInput)),
            MSG.badParameter,
            entity.key,
          ),
        );
        return;
      }
      const entryIdRaw = getCI(rowInput, 'FEntryID');
      const entryId = entryIdRaw === undefined || entryIdRaw === null ? 0 : parseNumber(entryIdRaw);
      if (entryId === undefined || !Number.isInteger(entryId) || entryId < 0) {
        problems.push(
          problem(
            OURS.wrongType('FEntryID', 'FEntryID', '内码整数 / an integer id', JSON.stringify(entryIdRaw)),
            MSG.badParameter,
            'FEntryID',
          ),
        );
        return;
      }
      let row: StoredRow;
      const isNewRow = entryId === 0;
      if (isNewRow) {
        row = this.blankRow(entity, this.store.nextId(table));
        supplied.add(`new:${row.id}`);
      } else {
        const found = byId.get(entryId);
        if (!found) {
          // ASSUMPTION: an unknown FEntryID is refused rather than silently turned into a new row.
          problems.push(problem(OURS.entryNotFound(entity.label, entryId), MSG.notFound, 'FEntryID'));
          return;
        }
        row = found;
      }
      for (const [key, value] of Object.entries(rowInput)) {
        const lower = key.toLowerCase();
        if (lower === 'fentryid' || lower === 'fseq' || lower.endsWith('_link')) continue;
        const location = form.fields.get(lower);
        if (!location || location.entity !== entity) {
          problems.push(problem(unknownField(key), MSG.fieldMissing, key));
          continue;
        }
        if (location.field.system || (!isNewRow && !touches(location.field.key))) continue;
        const converted = this.#convert(location.field, value, flags, contextOrg, problems, rowContext);
        if (converted !== undefined) {
          row.values[location.field.key] = converted;
          supplied.add(`${row.id}:${location.field.key}`);
        }
      }
      if (!keptIds.has(row.id)) {
        keptIds.add(row.id);
        kept.push(row);
      }
    });
    // IsDeleteEntry (default true) drops existing rows the Model does not mention. An empty array leaves
    // the rows alone: community report (public GitHub file #68915302411: `IsDeleteEntry=true` +
    // `[]` → rows stay, `[{}]` → replaced).
    const keepOld = !flags.isDeleteEntry || raw.length === 0;
    const rows = keepOld ? [...oldRows.filter((r) => !keptIds.has(r.id)), ...kept] : kept;
    if (keepOld) {
      // Preserve the original order of updated rows; new rows go last.
      rows.sort((a, b) => orderIndex(oldRows, a) - orderIndex(oldRows, b));
    }
    record.entries[entity.key] = rows;
  }

  /**
   * Convert one Model value to its stored form; problems are collected, undefined means "nothing to store".
   */
  #convert(
    field: FieldMeta,
    raw: unknown,
    flags: SaveFlags,
    contextOrg: number,
    problems: Problem[],
    row?: RowContext,
  ): FieldValue | undefined {
    const bad = (expected: string) => {
      problems.push(
        problem(
          OURS.wrongType(field.label, field.key, expected, shortJson(raw)),
          MSG.badParameter,
          field.key,
        ),
      );
      return undefined;
    };
    switch (field.type) {
      case 'text':
      case 'combo': {
        if (raw === null || raw === undefined) return '';
        if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
          return bad('文本 / text');
        }
        const text = String(raw);
        if (field.type === 'combo' && text !== '' && field.options && !field.options.includes(text)) {
          return bad(`${field.options.join('|')}`);
        }
        return text;
      }
      case 'multilang': {
        if (raw === null || raw === undefined) return '';
        if (typeof raw === 'string' || typeof raw === 'number') return String(raw);
        if (Array.isArray(raw)) {
          // View's own shape `[{Key:2052,Value}]` is accepted back.
          const entry =
            raw.find((item) => isPlainObject(item) && Number(getCI(item, 'Key')) === 2052) ?? raw[0];
          const value = isPlainObject(entry) ? getCI(entry, 'Value') : undefined;
          if (typeof value === 'string') return value;
        }
        return bad('文本 / text');
      }
      case 'integer':
      case 'decimal': {
        if (raw === null || raw === undefined) return 0;
        const n = parseNumber(raw);
        if (n === undefined || (field.type === 'integer' && !Number.isInteger(n))) {
          return bad(field.type === 'integer' ? '整数 / an integer' : '数值 / a number');
        }
        return n;
      }
      case 'boolean': {
        if (raw === null || raw === undefined || raw === '') return false;
        const b = parseBoolean(raw);
        return b === undefined ? bad('true|false') : b;
      }
      case 'date':
      case 'datetime': {
        if (raw === null || raw === undefined || raw === '') return null;
        if (typeof raw !== 'string') return bad('日期 / a date');
        const normalized = normalizeDate(raw, field.type === 'date');
        return normalized ?? bad('日期 yyyy-MM-dd / a date yyyy-MM-dd');
      }
      case 'ref':
        return this.#resolveReference(field, raw, flags, contextOrg, problems, row);
    }
  }

  #resolveReference(
    field: FieldMeta,
    raw: unknown,
    flags: SaveFlags,
    contextOrg: number,
    problems: Problem[],
    row?: RowContext,
  ): FieldValue | undefined {
    const target = this.registry.require(field.ref ?? '');
    let found: StoredRecord | undefined;
    let shown = '';
    if (raw === null || raw === undefined || raw === '' || raw === 0) return 0;
    if (isPlainObject(raw)) {
      const number = getCI(raw, 'FNumber');
      const name = getCI(raw, 'FName');
      const id = getCI(raw, target.meta.pkKey) ?? getCI(raw, 'Id') ?? getCI(raw, 'FID');
      if (typeof number === 'string' || typeof number === 'number') {
        shown = String(number).trim();
        if (shown === '') return 0;
        found = this.findByNumber(target, shown, contextOrg);
      } else if (typeof name === 'string') {
        shown = name.trim();
        if (shown === '') return 0;
        found = this.#findByName(target, shown);
      } else if (id !== undefined && id !== null && id !== '') {
        shown = String(id);
        const n = parseNumber(id);
        found = n ? this.store.get(target.meta.formId, n) : undefined;
        if (n === 0) return 0;
      } else if (Object.keys(raw).length === 0 || Object.values(raw).every((v) => v === '' || v === null)) {
        return 0;
      } else {
        problems.push(
          problem(
            OURS.wrongType(field.label, field.key, '{"FNumber":"…"}', shortJson(raw)),
            MSG.badParameter,
            field.key,
          ),
        );
        return undefined;
      }
    } else if (typeof raw === 'number' || (typeof raw === 'string' && /^\d+$/.test(raw.trim()))) {
      // ASSUMPTION: a bare number is an internal id; a bare non-numeric string is a number (编码).
      shown = String(raw).trim();
      found = this.store.get(target.meta.formId, Number(shown));
    } else if (typeof raw === 'string') {
      shown = raw.trim();
      found = this.findByNumber(target, shown, contextOrg);
    } else {
      problems.push(
        problem(
          OURS.wrongType(field.label, field.key, '{"FNumber":"…"}', shortJson(raw)),
          MSG.badParameter,
          field.key,
        ),
      );
      return undefined;
    }
    if (!found) {
      // ASSUMPTION: an unknown number is always refused (with FieldName), whatever IsVerifyBaseDataField
      // says; real servers may instead leave the field empty and fail the required-field check later.
      problems.push(problem(referenceNotFound(field.label, shown, row), MSG.fieldMissing, field.key));
      return undefined;
    }
    if (flags.verifyBaseData && target.meta.kind === 'base') {
      const status = target.statusKey ? found.values[target.statusKey] : 'C';
      const forbidden = target.forbidKey ? found.values[target.forbidKey] === 'B' : false;
      if (status !== 'C' || forbidden) {
        problems.push(problem(referenceInvalid(field.label, shown, row), MSG.fieldMissing, field.key));
        return undefined;
      }
    }
    return found.id;
  }

  #findByName(form: IndexedForm, name: string): StoredRecord | undefined {
    const key = form.meta.nameKey;
    if (!key) return undefined;
    const lower = name.toLowerCase();
    for (const record of this.store.all(form.meta.formId)) {
      const value = record.values[key];
      if (typeof value === 'string' && value.toLowerCase() === lower) return record;
    }
    return undefined;
  }

  /** Fill empty fields from their declared defaults (K3's field-change logic, simplified). */
  #applyDefaults(
    form: IndexedForm,
    record: StoredRecord,
    supplied: Set<string>,
    isUpdate: boolean,
    ctx: OperationContext,
  ): void {
    const header = (key: string) => record.values[key] ?? null;
    for (const { field, entity } of form.allFields) {
      if (entity?.kind === 'entry' || !field.default) continue;
      if (!needsDefault(field, record.values[field.key] ?? null, supplied.has(field.key), isUpdate)) continue;
      const value = this.#defaultValue(form, field, (key) => record.values[key] ?? null, header, ctx);
      if (value !== undefined) record.values[field.key] = value;
    }
    for (const entry of form.entries) {
      for (const row of record.entries[entry.key] ?? []) {
        const rowIsOld = isUpdate && !supplied.has(`new:${row.id}`);
        for (const field of entry.fields) {
          if (!field.default) continue;
          const rowSupplied = supplied.has(`${row.id}:${field.key}`);
          if (!needsDefault(field, row.values[field.key] ?? null, rowSupplied, rowIsOld)) continue;
          const value = this.#defaultValue(form, field, (key) => row.values[key] ?? null, header, ctx);
          if (value !== undefined) row.values[field.key] = value;
        }
      }
    }
  }

  /** Defaults for a record built by Push (nothing was "supplied" by a client). */
  applyDefaultsForNew(form: IndexedForm, record: StoredRecord, ctx: OperationContext): void {
    const supplied = new Set<string>();
    for (const { field, entity } of form.allFields) {
      if (entity?.kind !== 'entry' && record.values[field.key] !== emptyValue(field)) supplied.add(field.key);
    }
    for (const entry of form.entries) {
      for (const row of record.entries[entry.key] ?? []) {
        for (const field of entry.fields) {
          if (row.values[field.key] !== emptyValue(field)) supplied.add(`${row.id}:${field.key}`);
        }
      }
    }
    this.#applyDefaults(form, record, supplied, false, ctx);
  }

  #defaultValue(
    form: IndexedForm,
    field: FieldMeta,
    same: (key: string) => FieldValue,
    header: (key: string) => FieldValue,
    ctx: OperationContext,
  ): FieldValue | undefined {
    const spec = field.default;
    if (!spec) return undefined;
    switch (spec.kind) {
      case 'const':
        return spec.value;
      case 'copy':
        return same(spec.field);
      case 'header':
        return header(spec.field);
      case 'today':
        return formatToday(ctx.now, this.utcOffsetMinutes);
      case 'refNumber': {
        const target = this.registry.require(field.ref ?? '');
        return this.findByNumber(target, spec.number)?.id ?? 0;
      }
      case 'viaRef': {
        const refId = same(spec.refField);
        const refField = form.fields.get(spec.refField.toLowerCase())?.field;
        if (typeof refId !== 'number' || refId === 0 || !refField?.ref) return undefined;
        const target = this.registry.require(refField.ref);
        return this.store.get(target.meta.formId, refId)?.values[spec.field];
      }
    }
  }

  /** Run the form's computations (tax prices, line amounts, totals). */
  applyComputations(form: IndexedForm, record: StoredRecord): void {
    for (const rule of form.meta.compute ?? []) {
      switch (rule.kind) {
        case 'taxPrice':
          for (const row of record.entries[rule.entity] ?? []) {
            const rate = Number(row.values[rule.rate] ?? 0);
            const price = Number(row.values[rule.price] ?? 0);
            const taxPrice = Number(row.values[rule.taxPrice] ?? 0);
            if (taxPrice === 0 && price !== 0) row.values[rule.taxPrice] = round(price * (1 + rate / 100), 6);
            else if (price === 0 && taxPrice !== 0)
              row.values[rule.price] = round(taxPrice / (1 + rate / 100), 6);
          }
          break;
        case 'product':
          for (const row of record.entries[rule.entity] ?? []) {
            const product = rule.factors.reduce((acc, key) => acc * Number(row.values[key] ?? 0), 1);
            row.values[rule.target] = round(product, rule.decimals);
          }
          break;
        case 'sum': {
          const total = (record.entries[rule.entity] ?? []).reduce(
            (acc, row) => acc + Number(row.values[rule.field] ?? 0),
            0,
          );
          record.values[rule.target] = round(total, rule.decimals);
          break;
        }
      }
    }
  }

  /** Use the given number, or take the next one from the numbering rule; check uniqueness. */
  assignNumber(form: IndexedForm, record: StoredRecord, mode: 'save' | 'draft', problems: Problem[]): void {
    const meta = form.meta;
    const given = record.values[meta.numberKey];
    let number = typeof given === 'string' ? given.trim() : '';
    if (number === '') {
      if (mode === 'draft' && meta.kind === 'bill') return; // drafted bills have no number (spec §4.1)
      if (!meta.numbering) {
        const label = form.fields.get(meta.numberKey.toLowerCase())?.field.label ?? meta.numberKey;
        problems.push(problem(requiredField(label), MSG.validation, meta.numberKey));
        return;
      }
      do {
        const sequence = this.store.nextSequence(meta.formId);
        number = `${meta.numbering.prefix}${String(sequence).padStart(meta.numbering.width, '0')}`;
      } while (this.store.idsByNumber(meta.formId, number).length > 0);
    }
    record.values[meta.numberKey] = number;
    const clash = this.store
      .idsByNumber(meta.formId, number)
      .map((id) => this.store.get(meta.formId, id))
      .some((other) => other !== undefined && other.id !== record.id && other.masterId !== record.masterId);
    if (clash)
      problems.push(problem(duplicateNumber(meta.uniqueRuleName, number), MSG.validation, meta.numberKey));
  }

  /** Required fields, entry rows and business rules (ValidateFlag). */
  validate(form: IndexedForm, record: StoredRecord, problems: Problem[]): void {
    for (const { field, entity } of form.allFields) {
      if (entity?.kind === 'entry' || !field.required) continue;
      if (isEmpty(field, record.values[field.key] ?? null)) {
        problems.push(problem(requiredField(field.label), MSG.validation, field.key));
      }
    }
    for (const entry of form.entries) {
      const rows = record.entries[entry.key] ?? [];
      if ((entry.minRows ?? 0) > rows.length) {
        problems.push(problem(entryRowsRequired(entry.label), MSG.validation, entry.key));
      }
      rows.forEach((row, index) => {
        for (const field of entry.fields) {
          if (field.required && isEmpty(field, row.values[field.key] ?? null)) {
            problems.push(
              problem(
                requiredField(field.label, { entity: entry.label, row: index + 1 }),
                MSG.validation,
                field.key,
              ),
            );
          }
        }
      });
    }
    for (const rule of form.meta.validations ?? []) {
      for (const row of record.entries[rule.entity] ?? []) {
        const free = row.values[rule.flag] === true;
        const allZero = rule.fields.every((key) => Number(row.values[key] ?? 0) === 0);
        if (!free && allZero) problems.push(problem(rule.message, MSG.validation, rule.fieldName));
      }
    }
  }

  /** `NeedReturnData` for Save: `[{}]` unless NeedReturnFields asks for keys (shape: ASSUMPTION). */
  needReturnData(form: IndexedForm, record: StoredRecord, keys: readonly string[]): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const requested of keys) {
      const [first, second] = requested.split('.');
      if (!first) continue;
      if (first.toLowerCase() === form.meta.pkKey.toLowerCase()) {
        out[requested] = record.id;
        continue;
      }
      const entity = form.entities.get(first.toLowerCase());
      if (entity?.kind === 'entry') {
        const rows = record.entries[entity.key] ?? [];
        const existing = Array.isArray(out[entity.key]) ? (out[entity.key] as Record<string, unknown>[]) : [];
        out[entity.key] = rows.map((row, index) => {
          const item: Record<string, unknown> = { ...(existing[index] ?? { FEntryID: row.id }) };
          const field = second ? form.fields.get(second.toLowerCase())?.field : undefined;
          if (field) item[field.key] = this.saveFormat(field, row.values[field.key] ?? null);
          return item;
        });
        continue;
      }
      const location = form.fields.get((second ?? first).toLowerCase());
      if (location && location.entity?.kind !== 'entry') {
        out[requested] = this.saveFormat(location.field, record.values[location.field.key] ?? null);
      }
    }
    return out;
  }

  /** A stored value as a Save Model would carry it (references as `{"FNumber": …}`). */
  saveFormat(field: FieldMeta, value: FieldValue): unknown {
    if (field.type !== 'ref') return value;
    if (typeof value !== 'number' || value === 0) return null;
    const target = this.registry.require(field.ref ?? '');
    const record = this.store.get(target.meta.formId, value);
    return { FNumber: record ? this.numberOf(target, record) : '' };
  }
}

// ── helpers ───────────────────────────────────────────────────────────────────────────────────────────

export function emptyValue(field: FieldMeta): FieldValue {
  switch (field.type) {
    case 'integer':
    case 'decimal':
    case 'ref':
      return 0;
    case 'boolean':
      return false;
    case 'date':
    case 'datetime':
      return null;
    default:
      return '';
  }
}

function isEmpty(field: FieldMeta, value: FieldValue): boolean {
  if (value === null || value === '') return true;
  return field.type === 'ref' && value === 0;
}

function needsDefault(field: FieldMeta, value: FieldValue, supplied: boolean, isUpdate: boolean): boolean {
  if (
    field.type === 'integer' ||
    field.type === 'decimal' ||
    field.type === 'boolean' ||
    field.type === 'combo'
  ) {
    // 0 / false are real values: default only fields nobody supplied on a new record.
    return !supplied && !isUpdate && (field.type !== 'combo' || value === '');
  }
  return isEmpty(field, value);
}

function orderIndex(rows: readonly StoredRow[], row: StoredRow): number {
  const index = rows.indexOf(row);
  return index === -1 ? Number.MAX_SAFE_INTEGER : index;
}

function problem(message: string, code: number, fieldName: string | null = null): Problem {
  return { message: { FieldName: fieldName, Message: message, DIndex: 0 }, code };
}

function throwIfAny(problems: Problem[], dIndex: number): void {
  const first = problems[0];
  if (!first) return;
  throw new K3Failure(
    problems.map((p) => ({ ...p.message, DIndex: dIndex })),
    first.code,
  );
}

/** Turn a failure raised anywhere in an operation into `{"Result":{"ResponseStatus":…}}`. */
export function failureFrom(error: unknown): unknown {
  if (error instanceof K3Failure) {
    return { Result: { ResponseStatus: responseStatus({ errors: error.errors, msgCode: error.msgCode }) } };
  }
  throw error;
}

/** `data` (or `Model`) may be a JSON string containing the object (spec §3.1). */
export function parseMaybeJson(value: unknown, name: string): unknown {
  if (typeof value !== 'string') return value;
  const trimmed = value.trim();
  if (trimmed === '') return {};
  try {
    return JSON.parse(trimmed);
  } catch {
    throw new K3Failure(OURS.badParameter(name, '不是有效的JSON / not valid JSON'), MSG.badParameter);
  }
}

/**
 * The `data` argument as an object.
 * @throws {K3Failure} MsgCode 8 when it is missing, not JSON or not an object.
 */
export function requireObject(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined || value === null)
    throw new K3Failure(OURS.missingParameter(name), MSG.badParameter);
  const parsed = parseMaybeJson(value, name);
  if (!isPlainObject(parsed)) {
    throw new K3Failure(OURS.badParameter(name, '必须是JSON对象 / must be a JSON object'), MSG.badParameter);
  }
  return parsed;
}

function parseSaveFlags(parameters: Record<string, unknown>): SaveFlags {
  const list = (name: string): string[] => {
    const value = parseMaybeJson(getCI(parameters, name), name);
    if (Array.isArray(value)) return value.map((item) => String(item).trim()).filter((s) => s !== '');
    if (typeof value === 'string')
      return value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    return [];
  };
  const needUpdate = list('NeedUpDateFields');
  return {
    // `FPOOrderEntry.FQty` and `FQty` both name the field FQty.
    needUpdate:
      needUpdate.length === 0
        ? null
        : new Set(needUpdate.flatMap((key) => key.toLowerCase().split('.')).filter((k) => k !== '')),
    needReturn: list('NeedReturnFields'),
    isDeleteEntry: flag(getCI(parameters, 'IsDeleteEntry'), true),
    verifyBaseData: flag(getCI(parameters, 'IsVerifyBaseDataField'), false),
    autoAudit: flag(getCI(parameters, 'IsAutoSubmitAndAudit'), false),
    validate: flag(getCI(parameters, 'ValidateFlag'), true),
    repeatCheck: flag(getCI(parameters, 'ValidateRepeatJson'), false),
  };
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function shortJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** A failure envelope for the caller's own mistakes that happen before a form is known. */
export function badParameterEnvelope(message: string): unknown {
  return failureEnvelope(message, MSG.badParameter);
}

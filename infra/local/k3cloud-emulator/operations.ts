/**
 * Operations on existing records: Submit / Audit / UnAudit / Delete (spec §4.3), ExcuteOperation
 * (Forbid / Enable / Cancel …, spec §4.8), Allocate / CancelAllocate (spec §4.9) and Push (下推, spec §4.7).
 *
 * Status model (K3 数据状态): Z 暂存 → A 创建 → (Submit) B 审核中 → (Audit) C 已审核 → (UnAudit) D 重新审核
 * → (Submit) B … Real K3 sets D after UnAudit (重新审核); Save and Delete are allowed in A, D and Z.
 */
import { type Engine, type OperationContext, requireObject } from './engine.ts';
import { K3Failure, type K3Message, type K3SuccessEntity, MSG, responseStatus } from './envelope.ts';
import { PUSH_RULES, type PushRule, type PushValue } from './forms.ts';
import { alreadyAllocated, billMessage, numberNotFound, OURS, recordNotFound, TEXT } from './messages.ts';
import type { FieldValue, IndexedForm } from './metadata.ts';
import type { StoreChange, StoredRecord, StoredRow } from './store.ts';
import { flag, getCI, parseIdList, parseNumberList } from './values.ts';

export type StatusOperation = 'Submit' | 'Audit' | 'UnAudit' | 'Delete';

interface Outcome {
  errors: K3Message[];
  successEntities: K3SuccessEntity[];
  successMessages: K3Message[];
  msgCode: number;
}

function newOutcome(): Outcome {
  return { errors: [], successEntities: [], successMessages: [], msgCode: MSG.ok };
}

function addError(outcome: Outcome, message: string, msgCode: number, dIndex: number, fieldName = ''): void {
  if (outcome.errors.length === 0) outcome.msgCode = msgCode;
  outcome.errors.push({ FieldName: fieldName, Message: message, DIndex: dIndex });
}

function envelope(outcome: Outcome): unknown {
  return {
    Result: {
      ResponseStatus: responseStatus({
        errors: outcome.errors,
        successEntities: outcome.successEntities,
        successMessages: outcome.successMessages,
        msgCode: outcome.msgCode,
      }),
    },
  };
}

/**
 * Records named by `Numbers` (array) and `Ids` (comma string). Several numbers: the ones found are
 * processed, and "not found" is an error only when none was found (spec §4.3, captured behaviour).
 */
function selectTargets(
  engine: Engine,
  form: IndexedForm,
  data: Record<string, unknown>,
  outcome: Outcome,
): { record: StoredRecord; dIndex: number }[] {
  const numbers = parseNumberList(getCI(data, 'Numbers'));
  const { ids, bad } = parseIdList(getCI(data, 'Ids'));
  if (bad.length > 0) throw new K3Failure(OURS.badParameter('Ids', bad.join(',')), MSG.badParameter);
  if (numbers.length === 0 && ids.length === 0) {
    throw new K3Failure(OURS.missingParameter('Numbers / Ids'), MSG.badParameter);
  }
  const { found, missing } = engine.selectRecords(form, numbers, ids);
  if (found.length === 0) {
    for (const miss of missing) {
      const text =
        /^\d+$/.test(miss.key) && ids.includes(Number(miss.key))
          ? recordNotFound(miss.key, form.meta.tableName)
          : numberNotFound(form.meta.numberLabel, miss.key, form.meta.name);
      addError(outcome, text, MSG.notFound, miss.dIndex);
    }
  }
  return found;
}

/** Whether any pushed (target) row still links to this record. */
function hasDownstream(engine: Engine, form: IndexedForm, record: StoredRecord): boolean {
  for (const rule of PUSH_RULES) {
    if (rule.sourceFormId !== form.meta.formId) continue;
    for (const target of engine.store.all(rule.targetFormId)) {
      for (const row of target.entries[rule.targetEntry] ?? []) {
        if (row.link?.sourceFormId === form.meta.formId && row.link.sourceId === record.id) return true;
      }
    }
  }
  return false;
}

/** `DynamicFormService.Submit|Audit|UnAudit|Delete`. */
export function statusOperation(
  engine: Engine,
  operation: StatusOperation,
  formId: unknown,
  dataInput: unknown,
  ctx: OperationContext,
): unknown {
  const form = engine.form(formId);
  const data = requireObject(dataInput, 'data');
  const outcome = newOutcome();
  const targets = selectTargets(engine, form, data, outcome);
  const change: StoreChange = { puts: [], dels: [] };
  const statusKey = form.statusKey;
  for (const { record, dIndex } of targets) {
    const number = engine.numberOf(form, record);
    const say = (text: string) => billMessage(form.meta.numberLabel, number, form.meta.name, text);
    const status = statusKey ? String(record.values[statusKey] ?? 'A') : 'A';
    const fail = (text: string) => addError(outcome, say(text), MSG.validation, dIndex);
    let next: string | 'deleted' | undefined;
    let okText = '';
    switch (operation) {
      case 'Submit':
        if (status === 'A' || status === 'D') [next, okText] = ['B', TEXT.submitOk];
        else if (status === 'Z') fail(TEXT.draftCannotSubmit);
        else if (status === 'B') fail(TEXT.alreadySubmitted);
        else fail(TEXT.alreadyAudited);
        break;
      case 'Audit':
        if (status === 'B') [next, okText] = ['C', TEXT.auditOk];
        else if (status === 'C') fail(TEXT.alreadyAudited);
        else fail(TEXT.notSubmittedCannotAudit);
        break;
      case 'UnAudit':
        if (status !== 'C') fail(TEXT.notAuditedCannotUnAudit);
        else if (hasDownstream(engine, form, record)) fail(TEXT.hasDownstreamNoUnAudit);
        else [next, okText] = ['D', TEXT.unAuditOk];
        break;
      case 'Delete':
        if (status === 'B') fail(TEXT.submittedCannotDelete);
        else if (status === 'C') fail(TEXT.auditedCannotDelete);
        else if (hasDownstream(engine, form, record)) fail(TEXT.hasDownstreamNoDelete);
        else [next, okText] = ['deleted', TEXT.deleteOk];
        break;
    }
    if (next === undefined) continue;
    if (next === 'deleted') {
      change.dels.push({ formId: form.meta.formId, id: record.id });
    } else {
      const updated = engine.clone(record);
      if (statusKey) updated.values[statusKey] = next;
      if (form.modifyDateKey) updated.values[form.modifyDateKey] = engine.now(ctx);
      change.puts.push({ formId: form.meta.formId, record: updated });
    }
    outcome.successEntities.push({ Id: record.id, Number: number, DIndex: dIndex });
    outcome.successMessages.push({ FieldName: null, Message: say(okText), DIndex: dIndex });
  }
  if (change.puts.length > 0 || change.dels.length > 0) engine.store.commit(change);
  return envelope(outcome);
}

const STATUS_OPERATIONS: Readonly<Record<string, StatusOperation>> = {
  submit: 'Submit',
  audit: 'Audit',
  unaudit: 'UnAudit',
  delete: 'Delete',
};

/** `DynamicFormService.ExcuteOperation` (alias `ExecuteOperation`): a status change declared by the form. */
export function executeOperation(
  engine: Engine,
  formId: unknown,
  opNumberInput: unknown,
  dataInput: unknown,
  ctx: OperationContext,
): unknown {
  const form = engine.form(formId);
  const opNumber = typeof opNumberInput === 'string' ? opNumberInput.trim() : '';
  if (opNumber === '') throw new K3Failure(OURS.missingParameter('opNumber'), MSG.badParameter);
  const statusOp = STATUS_OPERATIONS[opNumber.toLowerCase()];
  if (statusOp) return statusOperation(engine, statusOp, formId, dataInput, ctx);
  const op = form.meta.operations?.find((o) => o.opNumber.toLowerCase() === opNumber.toLowerCase());
  if (!op) throw new K3Failure(OURS.unknownOperation(opNumber, form.meta.name), MSG.badParameter);
  const data = requireObject(dataInput, 'data');
  const outcome = newOutcome();
  const targets = selectTargets(engine, form, data, outcome);
  const change: StoreChange = { puts: [], dels: [] };
  for (const { record, dIndex } of targets) {
    const number = engine.numberOf(form, record);
    const say = (text: string) => billMessage(form.meta.numberLabel, number, form.meta.name, text);
    const current = String(record.values[op.field] ?? '');
    if (!op.from.includes(current)) {
      addError(outcome, say(op.wrongStateText), MSG.validation, dIndex);
      continue;
    }
    const updated = engine.clone(record);
    updated.values[op.field] = op.to;
    if (form.modifyDateKey) updated.values[form.modifyDateKey] = engine.now(ctx);
    change.puts.push({ formId: form.meta.formId, record: updated });
    outcome.successEntities.push({ Id: record.id, Number: number, DIndex: dIndex });
    outcome.successMessages.push({ FieldName: null, Message: say(`${op.label}成功！`), DIndex: dIndex });
  }
  if (change.puts.length > 0) engine.store.commit(change);
  return envelope(outcome);
}

function orgIds(engine: Engine, value: unknown, name: string): number[] {
  const { ids, bad } = parseIdList(value);
  if (bad.length > 0) throw new K3Failure(OURS.badParameter(name, bad.join(',')), MSG.badParameter);
  if (ids.length === 0) throw new K3Failure(OURS.missingParameter(name), MSG.badParameter);
  const orgForm = engine.registry.require('ORG_Organizations');
  for (const id of ids) {
    if (!engine.store.get(orgForm.meta.formId, id))
      throw new K3Failure(OURS.orgNotFound(String(id)), MSG.notFound);
  }
  return ids;
}

/**
 * `DynamicFormService.Allocate`: copy base data to other organisations (`PkIds` internal ids × `TOrgIds`
 * org ids). Each copy is a new record sharing the master's number and `msterID`, used by the target org;
 * it is created (A) unless `IsAutoSubmitAndAudit` asks for audited (C).
 */
export function allocate(
  engine: Engine,
  formId: unknown,
  dataInput: unknown,
  ctx: OperationContext,
): unknown {
  const form = engine.form(formId);
  const useOrgKey = form.meta.useOrgKey;
  if (!useOrgKey) throw new K3Failure(OURS.baseOnly(form.meta.name), MSG.badParameter);
  const data = requireObject(dataInput, 'data');
  const { ids: pkIds, bad } = parseIdList(getCI(data, 'PkIds'));
  if (bad.length > 0) throw new K3Failure(OURS.badParameter('PkIds', bad.join(',')), MSG.badParameter);
  if (pkIds.length === 0) throw new K3Failure(OURS.missingParameter('PkIds'), MSG.badParameter);
  const orgs = orgIds(engine, getCI(data, 'TOrgIds'), 'TOrgIds');
  const autoAudit = flag(getCI(data, 'IsAutoSubmitAndAudit'), false);
  const orgForm = engine.registry.require('ORG_Organizations');
  const outcome = newOutcome();
  const change: StoreChange = { puts: [], dels: [] };
  const now = engine.now(ctx);
  let dIndex = 0;
  for (const pk of pkIds) {
    const record = engine.store.get(form.meta.formId, pk);
    if (!record) {
      addError(outcome, recordNotFound(pk, form.meta.tableName), MSG.notFound, dIndex++);
      continue;
    }
    const master = engine.store.get(form.meta.formId, record.masterId) ?? record;
    const number = engine.numberOf(form, master);
    const family = [...engine.store.all(form.meta.formId)].filter((r) => r.masterId === master.id);
    for (const org of orgs) {
      const index = dIndex++;
      if (
        family.some((r) => r.values[useOrgKey] === org) ||
        change.puts.some((p) => p.record.masterId === master.id && p.record.values[useOrgKey] === org)
      ) {
        const orgRecord = engine.store.get(orgForm.meta.formId, org);
        const orgName = String(orgRecord?.values.FName ?? org);
        addError(outcome, alreadyAllocated(number, form.meta.name, orgName), MSG.validation, index);
        continue;
      }
      const copy = engine.clone(master);
      copy.id = engine.store.nextId(form.meta.formId);
      copy.masterId = master.id;
      copy.values[useOrgKey] = org;
      if (form.statusKey) copy.values[form.statusKey] = autoAudit ? 'C' : 'A';
      if (form.forbidKey) copy.values[form.forbidKey] = 'A';
      if (form.createDateKey) copy.values[form.createDateKey] = now;
      if (form.modifyDateKey) copy.values[form.modifyDateKey] = now;
      for (const entry of form.entries) {
        copy.entries[entry.key] = (copy.entries[entry.key] ?? []).map((row) => ({
          ...row,
          id: engine.store.nextId(`${form.meta.formId}.${entry.key}`),
        }));
      }
      change.puts.push({ formId: form.meta.formId, record: copy });
      outcome.successEntities.push({ Id: copy.id, Number: number, DIndex: index });
    }
  }
  if (change.puts.length > 0) engine.store.commit(change);
  return envelope(outcome);
}

/** `DynamicFormService.CancelAllocate`: remove the copies of `PkIds` used by `TOrgIds`. */
export function cancelAllocate(engine: Engine, formId: unknown, dataInput: unknown): unknown {
  const form = engine.form(formId);
  const useOrgKey = form.meta.useOrgKey;
  if (!useOrgKey) throw new K3Failure(OURS.baseOnly(form.meta.name), MSG.badParameter);
  const data = requireObject(dataInput, 'data');
  const { ids: pkIds } = parseIdList(getCI(data, 'PkIds'));
  if (pkIds.length === 0) throw new K3Failure(OURS.missingParameter('PkIds'), MSG.badParameter);
  const orgs = orgIds(engine, getCI(data, 'TOrgIds'), 'TOrgIds');
  const outcome = newOutcome();
  const change: StoreChange = { puts: [], dels: [] };
  let dIndex = 0;
  for (const pk of pkIds) {
    const record = engine.store.get(form.meta.formId, pk);
    const masterId = record?.masterId ?? pk;
    for (const org of orgs) {
      const index = dIndex++;
      const copy = [...engine.store.all(form.meta.formId)].find(
        (r) => r.masterId === masterId && r.id !== masterId && r.values[useOrgKey] === org,
      );
      if (!copy) {
        addError(outcome, recordNotFound(pk, form.meta.tableName), MSG.notFound, index);
        continue;
      }
      change.dels.push({ formId: form.meta.formId, id: copy.id });
      outcome.successEntities.push({ Id: copy.id, Number: engine.numberOf(form, copy), DIndex: index });
    }
  }
  if (change.dels.length > 0) engine.store.commit(change);
  return envelope(outcome);
}

// ── Push (下推) ──────────────────────────────────────────────────────────────────────────────────────

function findRule(form: IndexedForm, data: Record<string, unknown>): PushRule {
  const ruleId = String(getCI(data, 'RuleId') ?? '').trim();
  const targetFormId = String(getCI(data, 'TargetFormId') ?? '')
    .trim()
    .toLowerCase();
  let rule: PushRule | undefined;
  if (ruleId !== '') {
    rule = PUSH_RULES.find((r) => r.ruleId.toLowerCase() === ruleId.toLowerCase());
  } else if (flag(getCI(data, 'IsEnableDefaultRule'), false)) {
    if (targetFormId === '') throw new K3Failure(OURS.missingParameter('TargetFormId'), MSG.badParameter);
    rule = PUSH_RULES.find(
      (r) => r.sourceFormId === form.meta.formId && r.targetFormId.toLowerCase() === targetFormId,
    );
  } else {
    throw new K3Failure(OURS.missingParameter('RuleId'), MSG.badParameter);
  }
  if (!rule || rule.sourceFormId !== form.meta.formId) {
    throw new K3Failure(OURS.unknownPushRule(ruleId || targetFormId), MSG.badParameter);
  }
  if (targetFormId !== '' && rule.targetFormId.toLowerCase() !== targetFormId) {
    throw new K3Failure(OURS.unknownPushRule(`${rule.ruleId} → ${targetFormId}`), MSG.badParameter);
  }
  return rule;
}

/** Quantity of a source row already pushed by a rule (sum over the linked target rows). */
function pushedQuantity(engine: Engine, rule: PushRule, sourceId: number, sourceEntryId: number): number {
  let total = 0;
  for (const target of engine.store.all(rule.targetFormId)) {
    for (const row of target.entries[rule.targetEntry] ?? []) {
      const link = row.link;
      if (
        link &&
        link.ruleId === rule.ruleId &&
        link.sourceId === sourceId &&
        link.sourceEntryId === sourceEntryId
      ) {
        total += Number(row.values[rule.targetQty] ?? 0);
      }
    }
  }
  return total;
}

function pushValue(
  spec: PushValue,
  source: StoredRecord,
  row: StoredRow | null,
  sourceNumber: string,
): FieldValue {
  if ('const' in spec) return spec.const;
  if ('sourceBillNo' in spec) return sourceNumber;
  if ('fromEntry' in spec) return row?.values[spec.fromEntry] ?? null;
  return source.values[spec.from] ?? null;
}

/**
 * `DynamicFormService.Push`: one target bill per audited source bill, lines carrying the not-yet-pushed
 * quantity and a link to their source row. The target is saved in status A (创建) (spec §4.7 [inferred]).
 * `IsDraftWhenSaveFail` and `CustomParams` are accepted and ignored.
 */
export function push(engine: Engine, formId: unknown, dataInput: unknown, ctx: OperationContext): unknown {
  const form = engine.form(formId);
  const data = requireObject(dataInput, 'data');
  const rule = findRule(form, data);
  const target = engine.registry.require(rule.targetFormId);
  const convert = newOutcome();
  const save = newOutcome();

  // Sources: Numbers / Ids, or EntryIds (entry-level push: only those rows).
  const { ids: entryIds } = parseIdList(getCI(data, 'EntryIds'));
  let sources: { record: StoredRecord; dIndex: number; rows: Set<number> | null }[];
  if (entryIds.length > 0) {
    const wanted = new Set(entryIds);
    sources = [];
    for (const record of engine.store.all(form.meta.formId)) {
      const rows = (record.entries[rule.sourceEntry] ?? []).filter((r) => wanted.has(r.id)).map((r) => r.id);
      if (rows.length > 0) sources.push({ record, dIndex: sources.length, rows: new Set(rows) });
    }
    if (sources.length === 0) {
      addError(convert, recordNotFound(entryIds.join(','), form.meta.tableName), MSG.notFound, 0);
    }
  } else {
    sources = selectTargets(engine, form, data, convert).map((s) => ({ ...s, rows: null }));
  }

  const change: StoreChange = { puts: [], dels: [] };
  const cancelKey = form.allFields.find((l) => l.field.system === 'cancelStatus')?.field.key;
  for (const { record: source, dIndex, rows } of sources) {
    const sourceNumber = engine.numberOf(form, source);
    const say = (text: string) => billMessage(form.meta.numberLabel, sourceNumber, form.meta.name, text);
    if (form.statusKey && source.values[form.statusKey] !== 'C') {
      addError(convert, say(TEXT.notAuditedCannotPush), MSG.validation, dIndex);
      continue;
    }
    if (cancelKey && source.values[cancelKey] === 'B') {
      addError(convert, say(TEXT.cancelledCannotPush), MSG.validation, dIndex);
      continue;
    }
    const record = engine.blankRecord(target, engine.store.nextId(target.meta.formId));
    for (const [key, spec] of Object.entries(rule.header)) {
      record.values[key] = pushValue(spec, source, null, sourceNumber);
    }
    const lines: StoredRow[] = [];
    const entryMeta = target.entities.get(rule.targetEntry.toLowerCase());
    if (!entryMeta) throw new Error(`push rule ${rule.ruleId}: unknown target entry ${rule.targetEntry}`);
    for (const sourceRow of source.entries[rule.sourceEntry] ?? []) {
      if (rows && !rows.has(sourceRow.id)) continue;
      // Quantities pushed by earlier targets (still existing) are not pushed again.
      const remaining =
        Number(sourceRow.values[rule.sourceQty] ?? 0) - pushedQuantity(engine, rule, source.id, sourceRow.id);
      if (remaining <= 0) continue;
      const line = engine.blankRow(entryMeta, engine.store.nextId(`${target.meta.formId}.${entryMeta.key}`));
      for (const [key, spec] of Object.entries(rule.entry)) {
        line.values[key] = pushValue(spec, source, sourceRow, sourceNumber);
      }
      line.values[rule.targetQty] = remaining;
      line.link = {
        ruleId: rule.ruleId,
        sourceFormId: form.meta.formId,
        sourceId: source.id,
        sourceEntryId: sourceRow.id,
      };
      lines.push(line);
    }
    if (lines.length === 0) {
      addError(convert, say(TEXT.fullyPushed), MSG.validation, dIndex);
      continue;
    }
    record.entries[rule.targetEntry] = lines;
    convert.successEntities.push({ Id: source.id, Number: sourceNumber, DIndex: dIndex });

    // Save the target: defaults, computations, number, validation — as Save would.
    engine.applyDefaultsForNew(target, record, ctx);
    engine.applyComputations(target, record);
    const now = engine.now(ctx);
    if (target.statusKey) record.values[target.statusKey] = 'A';
    const cancel = target.allFields.find((l) => l.field.system === 'cancelStatus');
    if (cancel) record.values[cancel.field.key] = 'A';
    if (target.createDateKey) record.values[target.createDateKey] = now;
    if (target.modifyDateKey) record.values[target.modifyDateKey] = now;
    const problems: { message: K3Message; code: number }[] = [];
    engine.assignNumber(target, record, 'save', problems);
    engine.validate(target, record, problems);
    if (problems.length > 0) {
      for (const p of problems) addError(save, p.message.Message, p.code, dIndex, p.message.FieldName ?? '');
      continue;
    }
    change.puts.push({ formId: target.meta.formId, record });
    save.successEntities.push({ Id: record.id, Number: engine.numberOf(target, record), DIndex: dIndex });
  }
  if (change.puts.length > 0) engine.store.commit(change);
  // A conversion failure is also a failure of the call: report it in ResponseStatus too, so a client that
  // reads only ResponseStatus (most do) does not mistake it for success.
  for (const error of convert.errors) {
    if (save.errors.length === 0) save.msgCode = convert.msgCode;
    save.errors.push(error);
  }
  return {
    Result: {
      ResponseStatus: responseStatus({
        errors: save.errors,
        successEntities: save.successEntities,
        msgCode: save.msgCode,
      }),
      ConvertResponseStatus: responseStatus({
        errors: convert.errors,
        successEntities: convert.successEntities,
        msgCode: convert.msgCode,
      }),
    },
  };
}

/**
 * View (查看): a stored record rendered the way K3's `DynamicFormService.View` returns it, after the public
 * captures (spec §4.4 and a real base-data View, public GitHub file #1603629392):
 *
 * - `{"Result":{"ResponseStatus":null,"Result":{…}}}` on success (spec §10: real servers send
 *   `"ResponseStatus":null` for a successful View);
 * - properties are named by the field's View name (`FCustId` → `CustId`), references as `<Name>_Id` plus
 *   an object `{Id, msterID, MultiLanguageText, Name:[{Key:2052,Value}], Number}` (or `0` / `null` when empty);
 * - multilingual fields as `[{Key:2052,Value}]`, preceded by one `MultiLanguageText` list;
 * - sub-headers (e.g. `SaleOrderFinance`) as one-element arrays, entries as arrays of `{Id, Seq, …}`.
 */
import type { Engine } from './engine.ts';
import { K3Failure, MSG } from './envelope.ts';
import { numberNotFound, recordNotFound } from './messages.ts';
import { type FieldMeta, type FieldValue, type IndexedForm, viewNameOf } from './metadata.ts';
import type { StoredRecord } from './store.ts';
import { getCI, parseNumber } from './values.ts';

const LOCALE_ID = 2052;

/** `DynamicFormService.View` by `Id` or `Number` (singular, spec §4.4). */
export function viewOperation(engine: Engine, formId: unknown, data: Record<string, unknown>): unknown {
  const form = engine.form(formId);
  const idRaw = getCI(data, 'Id');
  const numberRaw = getCI(data, 'Number');
  const id = parseNumber(idRaw);
  let record: StoredRecord | undefined;
  if (id !== undefined && id > 0) {
    record = engine.store.get(form.meta.formId, id);
    if (!record) throw new K3Failure(recordNotFound(id, form.meta.tableName), MSG.notFound);
  } else if (typeof numberRaw === 'string' && numberRaw.trim() !== '') {
    record = engine.findByNumber(
      form,
      numberRaw.trim(),
      Number(parseNumber(getCI(data, 'CreateOrgId')) ?? 0),
    );
    if (!record) {
      throw new K3Failure(
        numberNotFound(form.meta.numberLabel, numberRaw.trim(), form.meta.name),
        MSG.notFound,
      );
    }
  } else {
    throw new K3Failure('请传入Id或者Number / Id or Number is required', MSG.badParameter);
  }
  return { Result: { ResponseStatus: null, Result: renderRecord(engine, form, record) } };
}

/** One record in View shape (also what `listRecords` returns). */
export function renderRecord(
  engine: Engine,
  form: IndexedForm,
  record: StoredRecord,
): Record<string, unknown> {
  const out: Record<string, unknown> = { Id: record.id };
  if (form.meta.kind === 'base') out.msterID = record.masterId;
  renderFields(engine, form.meta.header, record.values, out, record.id);
  for (const entity of form.meta.entities) {
    if (entity.kind === 'subhead') {
      const sub: Record<string, unknown> = { Id: record.id };
      renderFields(engine, entity.fields, record.values, sub, record.id);
      out[entity.view] = [sub];
    } else {
      out[entity.view] = (record.entries[entity.key] ?? []).map((row, index) => {
        const item: Record<string, unknown> = { Id: row.id, Seq: index + 1 };
        renderFields(engine, entity.fields, row.values, item, row.id);
        return item;
      });
    }
  }
  return out;
}

function renderFields(
  engine: Engine,
  fields: readonly FieldMeta[],
  values: Record<string, FieldValue>,
  out: Record<string, unknown>,
  pkId: number,
): void {
  let multiLanguageDone = false;
  for (const field of fields) {
    const name = viewNameOf(field);
    const value = values[field.key] ?? null;
    if (field.type === 'multilang') {
      if (!multiLanguageDone) {
        const text: Record<string, unknown> = { PkId: pkId, LocaleId: LOCALE_ID };
        for (const f of fields) if (f.type === 'multilang') text[viewNameOf(f)] = values[f.key] ?? '';
        out.MultiLanguageText = [text];
        multiLanguageDone = true;
      }
      out[name] = [{ Key: LOCALE_ID, Value: value ?? '' }];
    } else if (field.type === 'ref') {
      const id = typeof value === 'number' ? value : 0;
      out[`${name}_Id`] = id;
      out[name] = id === 0 ? null : referenceObject(engine, field, id);
    } else {
      out[name] = value;
    }
  }
}

/** The object View shows for a referenced base-data record. */
function referenceObject(engine: Engine, field: FieldMeta, id: number): Record<string, unknown> | null {
  const target = engine.registry.require(field.ref ?? '');
  const record = engine.store.get(target.meta.formId, id);
  if (!record) return null;
  const out: Record<string, unknown> = { Id: record.id };
  if (target.meta.useOrgKey) out.msterID = record.masterId;
  const name = target.meta.nameKey ? (record.values[target.meta.nameKey] ?? '') : '';
  out.MultiLanguageText = [{ PkId: record.id, LocaleId: LOCALE_ID, Name: name }];
  out.Name = [{ Key: LOCALE_ID, Value: name }];
  out.Number = engine.numberOf(target, record);
  return out;
}

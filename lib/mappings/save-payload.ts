/**
 * Shaping mapped content into a K3 Save body, for a create or for an update.
 *
 * Create: the primary key 0 first, then every mapped field in template order (K3 runs field-change logic
 * in Model order, spec §5, so organisations come before what depends on them).
 * Update: the existing primary key, every mapped field except the create-only ones, `NeedUpDateFields`
 * listing exactly those keys (with the sub-header and entry keys themselves, spec §4.1), text fields that
 * became empty in the CRM sent as '' so the ERP does not keep stale text, and `IsDeleteEntry` always
 * explicit — K3's default `true` would delete entry rows missing from the Model.
 */
import type { K3Model, K3SaveData } from './k3-requests.ts';

export interface SaveShape {
  /** `FCUSTID`, `FID`. */
  pkKey: string;
  /** Top-level keys whose value is a sub-header object (`FSaleOrderFinance`), not a reference. */
  subHeaders: ReadonlySet<string>;
  /** Entry key → the entry's primary key (`FSaleOrderEntry` → `FEntryID`). */
  entries: Readonly<Record<string, string>>;
  /** Targets written on create only (`FCreateOrgId`, `FSaleOrderFinance.FExchangeRate`). */
  createOnly: ReadonlySet<string>;
}

export interface ShapedSave {
  mode: 'create' | 'update';
  save: K3SaveData;
}

function isObject(value: unknown): value is K3Model {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Build the Save body from mapped content (no primary keys inside except entry rows' own).
 *
 * @param clearOnUpdate targets of text rules that produced no value: sent as '' on update.
 * @param isDeleteEntry only meaningful on updates of bills with entries; false by default.
 */
export function buildSaveData(
  content: K3Model,
  shape: SaveShape,
  existingId: number | undefined,
  clearOnUpdate: readonly string[] = [],
  isDeleteEntry = false,
): ShapedSave {
  if (existingId === undefined) {
    return { mode: 'create', save: { Model: { [shape.pkKey]: 0, ...content } } };
  }
  const model: K3Model = { [shape.pkKey]: existingId };
  const fields: string[] = [];
  const note = (key: string) => {
    if (!fields.includes(key)) fields.push(key);
  };
  for (const [key, value] of Object.entries(content)) {
    if (shape.createOnly.has(key)) continue;
    if (shape.subHeaders.has(key) && isObject(value)) {
      const sub: K3Model = {};
      for (const [subKey, subValue] of Object.entries(value)) {
        if (!shape.createOnly.has(`${key}.${subKey}`)) sub[subKey] = subValue;
      }
      if (Object.keys(sub).length === 0) continue;
      model[key] = sub;
      note(key);
      for (const subKey of Object.keys(sub)) note(subKey);
      continue;
    }
    model[key] = value;
    note(key);
    const entryPk = shape.entries[key];
    if (entryPk !== undefined && Array.isArray(value)) {
      for (const row of value) for (const rowKey of Object.keys(row)) if (rowKey !== entryPk) note(rowKey);
    }
  }
  for (const target of clearOnUpdate) {
    if (shape.createOnly.has(target)) continue;
    const dot = target.indexOf('.');
    if (dot < 0) {
      if (model[target] !== undefined) continue;
      model[target] = '';
      note(target);
      continue;
    }
    const head = target.slice(0, dot);
    const tail = target.slice(dot + 1);
    const existing = model[head];
    const sub: K3Model = isObject(existing) ? existing : {};
    if (sub[tail] !== undefined) continue;
    sub[tail] = '';
    model[head] = sub;
    note(head);
    note(tail);
  }
  return { mode: 'update', save: { Model: model, NeedUpDateFields: fields, IsDeleteEntry: isDeleteEntry } };
}

/** Heads of dotted targets: `FT_BD_CUSTOMEREXT.FX` → `FT_BD_CUSTOMEREXT`. */
export function subHeadersOf(targets: readonly string[]): string[] {
  return targets.flatMap((target) => (target.includes('.') ? [target.slice(0, target.indexOf('.'))] : []));
}

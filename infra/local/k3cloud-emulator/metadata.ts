/**
 * How the emulator describes a K3Cloud form (业务对象): as data, once. One generic engine implements
 * Save / View / ExecuteBillQuery / Submit / Audit / Push over these descriptions, so adding a form or a field
 * is an edit of `forms.ts`, not new code.
 *
 * Field keys are the real K3Cloud keys as far as public sources show (spec §5); where a key is a guess, the
 * form description in `forms.ts` is the single place to correct it. Keys are matched case-insensitively,
 * as the real server does (spec §1.2).
 */

/** A stored field value: references hold the internal id of the referenced record (0 = empty). */
export type FieldValue = string | number | boolean | null;

export type FieldType =
  /** plain text */
  | 'text'
  /** multilingual text: a string in Save/Query, `[{Key:2052,Value}]` in View */
  | 'multilang'
  | 'integer'
  | 'decimal'
  | 'boolean'
  /** date without time; stored as `yyyy-MM-ddT00:00:00` */
  | 'date'
  /** date and time; stored as `yyyy-MM-ddTHH:mm:ss[.fff]` (server local time) */
  | 'datetime'
  /** a drop-down value (下拉列表): a string from `options` */
  | 'combo'
  /** a reference to base data (基础资料), written as `{"FNumber": …}` */
  | 'ref';

/** Where a default value comes from when Save (or Push) leaves the field empty. */
export type FieldDefault =
  | { kind: 'const'; value: FieldValue }
  /** a reference to the record with this number in the referenced form (e.g. a default bill type) */
  | { kind: 'refNumber'; number: string }
  /** the value of another field of the same row (or of the header, for header fields) */
  | { kind: 'copy'; field: string }
  /** for entry fields: the value of a header (or sub-header) field */
  | { kind: 'header'; field: string }
  /** the value of a field of the record referenced by another field, e.g. the material's base unit */
  | { kind: 'viaRef'; refField: string; field: string }
  /** today's date (from the injected clock) */
  | { kind: 'today' };

/** Values the engine maintains itself; Save ignores them in the Model (as K3 does for read-only fields). */
export type SystemRole = 'status' | 'forbidStatus' | 'cancelStatus' | 'createDate' | 'modifyDate';

export interface FieldMeta {
  /** Save/Query key, e.g. `FCustId`. */
  key: string;
  /** Caption used in messages, e.g. `客户` (as in `字段[客户]是必录字段`). */
  label: string;
  type: FieldType;
  /** For `ref`: the referenced form. */
  ref?: string;
  /** For `combo`: the accepted values. */
  options?: readonly string[];
  required?: boolean;
  default?: FieldDefault;
  /** View property name; default: the key without its leading `F`. */
  view?: string;
  system?: SystemRole;
  /** Computed by the engine from other fields (see {@link ComputeRule}); Save input is overwritten. */
  computed?: boolean;
}

export interface EntityMeta {
  /** Save/Query key of the entity, e.g. `FSaleOrderEntry`, `FSaleOrderFinance`, `SubHeadEntity`. */
  key: string;
  label: string;
  /** `entry` = rows (单据体, an array in Save); `subhead` = one-to-one extension of the header (an object). */
  kind: 'entry' | 'subhead';
  /** View property name (View uses the entity's EntryName, spec §4.4). */
  view: string;
  fields: readonly FieldMeta[];
  /** For entries: a bill needs at least this many rows. */
  minRows?: number;
}

/** Computations the engine performs after defaults, in declaration order. */
export type ComputeRule =
  /** price ⇄ tax-included price through the tax rate (%), whichever was given */
  | { kind: 'taxPrice'; entity: string; price: string; taxPrice: string; rate: string }
  /** target = product of the factors, rounded */
  | { kind: 'product'; entity: string; target: string; factors: readonly string[]; decimals: number }
  /** header/sub-header target = sum of an entry field */
  | { kind: 'sum'; target: string; entity: string; field: string; decimals: number };

/** Business validations beyond required fields, run when ValidateFlag is true. */
export type ValidationRule = {
  kind: 'nonZeroUnlessFlag';
  entity: string;
  /** the line fails when all of these are 0 */
  fields: readonly string[];
  /** …unless this boolean is true (e.g. 是否赠品) */
  flag: string;
  /** K3's message, verbatim */
  message: string;
  fieldName: string;
};

/** A status change offered by ExcuteOperation (Forbid/Enable, Cancel/Uncancel, …). */
export interface OperationMeta {
  opNumber: string;
  /** Caption in messages, e.g. `禁用`. */
  label: string;
  field: string;
  from: readonly string[];
  to: string;
  /** Message part when the record is not in a `from` state, e.g. `已经是禁用状态`. */
  wrongStateText: string;
}

export interface FormMeta {
  formId: string;
  /** Other ids the server answers to (e.g. a query view such as `V_BD_SALESMAN`). */
  aliases?: readonly string[];
  /** Business object name in messages, e.g. `销售订单`. */
  name: string;
  kind: 'bill' | 'base';
  /** Primary key in Save/Query: `FID` for bills, `FCUSTID` for customers, … */
  pkKey: string;
  /** Bill number (`FBillNo`) or base-data code (`FNumber`). */
  numberKey: string;
  /** How messages name the number: `单据编号` for bills, `编码` for base data. */
  numberLabel: string;
  /** Multilingual name field, for base data that others reference. */
  nameKey?: string;
  /** Auto-numbering (编码规则) when the number is omitted; without it the number is required. */
  numbering?: { prefix: string; width: number };
  /** Name of the uniqueness rule in the duplicate-number message (`违反字段唯一性要求：<rule>。`). */
  uniqueRuleName: string;
  /** Header table, quoted in "not found" messages (`TableName=…`). */
  tableName: string;
  /** Base data with organisation control: created in one org, allocated (分配) to others. */
  createOrgKey?: string;
  useOrgKey?: string;
  /** The organisation that scopes reference resolution for this form's references (e.g. FSaleOrgId). */
  contextOrgKey?: string;
  header: readonly FieldMeta[];
  entities: readonly EntityMeta[];
  compute?: readonly ComputeRule[];
  validations?: readonly ValidationRule[];
  operations?: readonly OperationMeta[];
}

/** A resolved field: which entity it lives in (`null` = header) and its description. */
export interface FieldLocation {
  field: FieldMeta;
  entity: EntityMeta | null;
}

/** Lookup tables over one form, built once. */
export interface IndexedForm {
  meta: FormMeta;
  /** lower-case field key → location (header, sub-headers and entries share one key space, as in K3) */
  fields: Map<string, FieldLocation>;
  /** lower-case entity key → entity */
  entities: Map<string, EntityMeta>;
  entries: readonly EntityMeta[];
  subheads: readonly EntityMeta[];
  /** every field in declaration order, header first */
  allFields: readonly FieldLocation[];
  statusKey: string | undefined;
  forbidKey: string | undefined;
  createDateKey: string | undefined;
  modifyDateKey: string | undefined;
}

/** The default View property name of a key: `FCustId` → `CustId`, `F_FXK_CrmId` stays as is (BOS extension fields). */
export function viewNameOf(field: { key: string; view?: string }): string {
  if (field.view) return field.view;
  if (field.key.startsWith('F_')) return field.key;
  return /^F[A-Za-z]/.test(field.key) ? field.key.slice(1) : field.key;
}

/** The set of forms the emulator serves, with case-insensitive lookup. */
export class FormRegistry {
  readonly #forms = new Map<string, IndexedForm>();
  readonly #ordered: IndexedForm[] = [];

  constructor(forms: readonly FormMeta[]) {
    for (const meta of forms) {
      const indexed = indexForm(meta);
      this.#ordered.push(indexed);
      for (const id of [meta.formId, ...(meta.aliases ?? [])]) {
        const lower = id.toLowerCase();
        if (this.#forms.has(lower)) throw new Error(`duplicate form id ${id}`);
        this.#forms.set(lower, indexed);
      }
    }
    for (const form of this.#ordered) {
      for (const { field } of form.allFields) {
        if (field.type === 'ref' && (!field.ref || !this.#forms.has(field.ref.toLowerCase()))) {
          throw new Error(`${form.meta.formId}.${field.key} references unknown form ${String(field.ref)}`);
        }
      }
    }
  }

  /** The form for a FormId as a client wrote it (any case, aliases included), or undefined. */
  get(formId: string): IndexedForm | undefined {
    return this.#forms.get(formId.trim().toLowerCase());
  }

  /**
   * @throws {Error} when the form is not registered (a metadata bug, not a client error).
   */
  require(formId: string): IndexedForm {
    const form = this.get(formId);
    if (!form) throw new Error(`form ${formId} is not registered`);
    return form;
  }

  list(): readonly IndexedForm[] {
    return this.#ordered;
  }
}

function indexForm(meta: FormMeta): IndexedForm {
  const fields = new Map<string, FieldLocation>();
  const entities = new Map<string, EntityMeta>();
  const allFields: FieldLocation[] = [];
  const add = (field: FieldMeta, entity: EntityMeta | null) => {
    const lower = field.key.toLowerCase();
    if (fields.has(lower)) throw new Error(`${meta.formId}: duplicate field key ${field.key}`);
    const location = { field, entity };
    fields.set(lower, location);
    allFields.push(location);
  };
  for (const field of meta.header) add(field, null);
  for (const entity of meta.entities) {
    entities.set(entity.key.toLowerCase(), entity);
    for (const field of entity.fields) add(field, entity);
  }
  const bySystem = (role: SystemRole) => allFields.find((l) => l.field.system === role)?.field.key;
  return {
    meta,
    fields,
    entities,
    entries: meta.entities.filter((e) => e.kind === 'entry'),
    subheads: meta.entities.filter((e) => e.kind === 'subhead'),
    allFields,
    statusKey: bySystem('status'),
    forbidKey: bySystem('forbidStatus'),
    createDateKey: bySystem('createDate'),
    modifyDateKey: bySystem('modifyDate'),
  };
}

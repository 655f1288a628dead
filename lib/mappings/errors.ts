/**
 * Errors and notes of the pure mappings.
 *
 * A mapping collects every problem of a record before it gives up, so an implementer fixes a CRM record (or
 * the config) once instead of replaying it once per bad field. The error's `kind` tells the pipeline what to
 * do with the record:
 * - `business`: the CRM (or ERP) data is wrong — final for this version of the record; the sync log shows the
 *   message, and the next edit of the record brings a new version.
 * - `config`: the data is fine but the mapping configuration cannot handle it (an option value without a
 *   dictionary entry, a missing unit) — an operator fixes the config and replays the record.
 */
import { SyncError } from '../errors.ts';

/** Which record a problem is about: a CRM record (`apiName` = object apiName) or an ERP bill (form id). */
export interface RecordRef {
  apiName: string;
  id: string;
  /** Display name (`name`) or bill number, when known. */
  name?: string | undefined;
}

export type MappingProblemKind = 'business' | 'config';

/** One reason a record cannot be mapped, in Chinese and English. */
export interface MappingProblem {
  kind: MappingProblemKind;
  /** Stable code, e.g. `REQUIRED_FIELD_MISSING`, `UNMAPPED_VALUE`, `PRODUCT_WITHOUT_MATERIAL`. */
  code: string;
  /** The source field (CRM apiName, or K3 field key for ERP → CRM), when one field is at fault. */
  field?: string | undefined;
  /** The offending value as found in the record, when there is one. */
  value?: unknown;
  zh: string;
  en: string;
}

/** Something a mapping changed on the way that an implementer may want to know (a truncation, a default). */
export interface MappingNote {
  code: 'TRUNCATED' | 'DICTIONARY_DEFAULT' | 'SKIPPED_LINE' | 'UNMATCHED_LINE';
  /** The target field (K3 field key or CRM apiName) the note is about. */
  target: string;
  zh: string;
  en: string;
}

/** Chinese captions of the objects and forms the sync touches, for messages. */
const LABELS: Readonly<Record<string, string>> = {
  AccountObj: '客户',
  SalesOrderObj: '销售订单',
  SalesOrderProductObj: '订单产品',
  ProductObj: '产品',
  DeliveryNoteObj: '发货单',
  DeliveryNoteProductObj: '发货单产品',
  BD_Customer: '客户',
  BD_MATERIAL: '物料',
  SAL_SaleOrder: '销售订单',
  SAL_DELIVERYNOTICE: '发货通知单',
  SAL_OUTSTOCK: '销售出库单',
  PUR_PurchaseOrder: '采购订单',
  STK_InStock: '采购入库单',
};

/** `客户 AccountObj「华东贸易」(id 65a1…)` / `AccountObj "华东贸易" (id 65a1…)`. */
export function describeRecord(ref: RecordRef): { zh: string; en: string } {
  const label = LABELS[ref.apiName];
  const name = ref.name ? `「${ref.name}」` : '';
  return {
    zh: `${label ? `${label} ` : ''}${ref.apiName}${name}(id ${ref.id})`,
    en: `${ref.apiName}${ref.name ? ` "${ref.name}"` : ''} (id ${ref.id})`,
  };
}

/** A value as shown in messages: strings quoted, long values cut, objects as JSON. */
export function showValue(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/**
 * A record cannot be mapped. `kind` is `config` when at least one problem needs a config change (the data
 * problems are listed too, so one replay after the fix is enough), otherwise `business`.
 */
export class MappingError extends SyncError {
  readonly record: RecordRef;
  readonly problems: readonly MappingProblem[];

  constructor(record: RecordRef, problems: readonly MappingProblem[]) {
    const kind = problems.some((p) => p.kind === 'config') ? 'config' : 'business';
    const codes = [...new Set(problems.map((p) => p.code))];
    const who = describeRecord(record);
    const lines = problems.map((p) => `- ${p.zh} / ${p.en}`).join('\n');
    super(`${who.zh} 无法映射 / ${who.en} cannot be mapped:\n${lines}`, {
      kind,
      fault: kind === 'config' ? 'ours' : 'caller',
      code: codes.length === 1 ? `MAPPING_${codes[0]}` : 'MAPPING_MULTIPLE_PROBLEMS',
    });
    this.record = record;
    this.problems = problems;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      record: this.record,
      problems: this.problems.map((p) => ({ kind: p.kind, code: p.code, field: p.field })),
    };
  }
}

/** Collects problems while a record is mapped; {@link ProblemList.throwIfAny} ends the mapping. */
export class ProblemList {
  readonly #problems: MappingProblem[] = [];

  add(problem: MappingProblem): void {
    this.#problems.push(problem);
  }

  get size(): number {
    return this.#problems.length;
  }

  /** @throws {MappingError} when at least one problem was added. */
  throwIfAny(record: RecordRef): void {
    if (this.#problems.length > 0) throw new MappingError(record, this.#problems);
  }
}

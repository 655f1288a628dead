/**
 * Which ERP material (and unit) a CRM product stands for — the reference the sales order flow needs for
 * every line, resolved by the pipeline before mapping:
 *
 * 1. {@link materialOfProduct}: the material number the product names (`material.overrideField` when
 *    filled, else `material.crmField`, default `product_code`).
 * 2. {@link buildMaterialQuery} + {@link parseMaterialRows}: which of those numbers K3 has in the sale
 *    organisation, with their status and base unit.
 * 3. {@link resolveMaterials}: product id → material for the products K3 can sell (audited, enabled), with
 *    the unit from the CRM product (through `material.unitDictionary`) or else the material's base unit.
 *    A product left out becomes the business error "product has no material" in the order mapping.
 */
import type { CrmRecord } from '../fxiaoke/records.ts';
import { readCrmString } from '../fxiaoke/records.ts';
import type { CrmToK3Rule, SyncConfig } from './config.ts';
import { requireFlow } from './config.ts';
import { crmRecordRef } from './crm-record.ts';
import { ProblemList } from './errors.ts';
import { applyCrmRule, type RuleContext } from './field-rules.ts';
import {
  buildBillQuery,
  cellId,
  cellText,
  type K3BillQuery,
  k3All,
  k3Equals,
  k3In,
  parseBillQueryRows,
} from './k3-requests.ts';

const FLOW_PATH = 'flows.salesOrderToSaleOrder';

/** The ERP material of a CRM product. */
export interface ResolvedMaterial {
  /** BD_MATERIAL number, e.g. `WL0001`. */
  number: string;
  /** Sales unit number (`Pcs`); when absent the flow's `defaultUnitNumber` is used. */
  unitNumber?: string | undefined;
}

/**
 * The material number a CRM product names, with the unit from `material.unitField` through
 * `material.unitDictionary` when configured. Returns undefined when the product names no material.
 *
 * @throws {MappingError} kind `config` when the product's unit option has no dictionary entry.
 * @throws {ConfigError} when the sales order flow is not configured or disabled.
 */
export function materialOfProduct(product: CrmRecord, config: SyncConfig): ResolvedMaterial | undefined {
  const flow = requireFlow(config, 'salesOrderToSaleOrder');
  const pick = (field: string | undefined) =>
    field === undefined ? undefined : readCrmString(product, field)?.trim();
  const number = pick(flow.material.overrideField) || pick(flow.material.crmField);
  if (!number) return undefined;
  const { unitField, unitDictionary } = flow.material;
  if (unitField === undefined || unitDictionary === undefined) return { number };
  const problems = new ProblemList();
  const ctx: RuleContext = {
    config,
    flowPath: FLOW_PATH,
    flowDictionaries: flow.dictionaries,
    problems,
    notes: [],
  };
  const unitRule: CrmToK3Rule = {
    from: unitField,
    read: 'text',
    trim: true,
    dictionary: unitDictionary,
    required: false,
    createOnly: false,
  };
  const unit = applyCrmRule('FUnitID', unitRule, product, ctx);
  problems.throwIfAny(crmRecordRef(product, 'ProductObj'));
  return { number, unitNumber: typeof unit === 'string' ? unit : undefined };
}

/** A material as K3 knows it in the sale organisation. */
export interface ErpMaterial {
  id: number;
  number: string;
  baseUnitNumber: string | undefined;
  /** A 创建, B 审核中, C 已审核, D 重新审核. */
  documentStatus: string | undefined;
  /** A 启用, B 禁用. */
  forbidStatus: string | undefined;
}

/**
 * The ExecuteBillQuery that finds materials by number in the order's sale organisation (materials are
 * organisation-controlled base data: a material not allocated to that organisation cannot be sold there).
 *
 * @throws {ConfigError} when the flow is not configured or disabled.
 * @throws {TypeError} for an empty number list.
 */
export function buildMaterialQuery(config: SyncConfig, numbers: readonly string[]): K3BillQuery {
  const flow = requireFlow(config, 'salesOrderToSaleOrder');
  const unique = [...new Set(numbers)];
  return buildBillQuery(
    'BD_MATERIAL',
    ['FMATERIALID', 'FNumber', 'FDocumentStatus', 'FForbidStatus', 'FBaseUnitId.FNumber'],
    k3All(k3In('FNumber', unique), k3Equals('FUseOrgId.FNumber', flow.saleOrgNumber ?? config.erp.orgNumber)),
    { limit: Math.min(Math.max(unique.length, 1), 10_000) },
  );
}

/**
 * Material number → material, from the rows of {@link buildMaterialQuery}.
 *
 * @throws {K3RowsError} when the rows are malformed.
 */
export function parseMaterialRows(query: K3BillQuery, rows: unknown): Map<string, ErpMaterial> {
  const materials = new Map<string, ErpMaterial>();
  for (const row of parseBillQueryRows(query, rows)) {
    const number = cellText(row, 'FNumber');
    if (number === undefined) continue;
    materials.set(number, {
      id: cellId(row, 'FMATERIALID', query.FormId),
      number,
      baseUnitNumber: cellText(row, 'FBaseUnitId.FNumber'),
      documentStatus: cellText(row, 'FDocumentStatus'),
      forbidStatus: cellText(row, 'FForbidStatus'),
    });
  }
  return materials;
}

export interface UnusableProduct {
  productId: string;
  /** The material number the product names, when it names one. */
  materialNumber: string | undefined;
  reason: 'no-number' | 'not-in-k3' | 'not-audited' | 'forbidden';
}

/**
 * Product id → material for every product K3 can sell: the material exists in the sale organisation, is
 * audited and enabled. The unit comes from the CRM product when `material.unitField` is configured, else
 * from the material's base unit. The others are listed in `unusable` (for the sync log); the order mapping
 * reports them as products without a material.
 *
 * @throws {MappingError} kind `config` when a product's unit option has no dictionary entry.
 */
export function resolveMaterials(
  products: readonly CrmRecord[],
  config: SyncConfig,
  erpMaterials: ReadonlyMap<string, ErpMaterial>,
): { materials: Map<string, ResolvedMaterial>; unusable: UnusableProduct[] } {
  const materials = new Map<string, ResolvedMaterial>();
  const unusable: UnusableProduct[] = [];
  for (const product of products) {
    const named = materialOfProduct(product, config);
    const erp = named === undefined ? undefined : erpMaterials.get(named.number);
    const reason =
      named === undefined
        ? 'no-number'
        : erp === undefined
          ? 'not-in-k3'
          : erp.documentStatus !== 'C'
            ? 'not-audited'
            : erp.forbidStatus === 'B'
              ? 'forbidden'
              : undefined;
    if (reason !== undefined || named === undefined || erp === undefined) {
      unusable.push({ productId: product._id, materialNumber: named?.number, reason: reason ?? 'not-in-k3' });
      continue;
    }
    materials.set(product._id, { number: erp.number, unitNumber: named.unitNumber ?? erp.baseUnitNumber });
  }
  return { materials, unusable };
}

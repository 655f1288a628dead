/**
 * The mapping configuration: one validated file (YAML or JSON) that turns the five flows into a company's
 * own sync — organisation numbers, bill types, currency and tax codes, value dictionaries and custom field
 * apiNames — without code edits.
 *
 * Every object is strict: an unknown key is an error, because a typo (`maxLenght`) silently ignored is a
 * mapping that silently does something else. Defaults are written next to each key below and in
 * `docs/mapping-config.md`; K3 codes default to Kingdee's preset (`_SYS`, `PRE001`) numbers, which exist in
 * every K3Cloud data center, while organisation numbers and custom fields have no default.
 *
 * Loading from SSM is the pipeline's job: it passes the parameter's text to {@link parseSyncConfig}.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { parseConfigText } from './config-report.ts';
import { parseK3NaiveMs } from './k3-requests.ts';

// ---------------------------------------------------------------------------------------------------------
// Building blocks

const CRM_FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;
const K3_KEY = /^[A-Za-z][A-Za-z0-9_]*$/;
const K3_TARGET_KEY = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$/;
const K3_QUERY_KEY = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A K3 number (code) of base data or an organisation: `100`, `PRE001`, `KHLB001_SYS`. Always text. */
const k3Code = z.string().trim().min(1, 'must not be empty / 不能为空');
const crmField = z
  .string()
  .regex(CRM_FIELD, 'must be a CRM field apiName such as name or field_xxx__c / 应为纷享字段 apiName');
const k3Key = z.string().regex(K3_KEY, 'must be a K3 field key such as FNumber / 应为金蝶字段标识');
const k3TargetKey = z
  .string()
  .regex(
    K3_TARGET_KEY,
    'must be a K3 field key such as FName, or SubHeader.Field such as FSaleOrderFinance.FExchangeRate / 应为金蝶字段标识',
  );
const k3QueryKey = z
  .string()
  .regex(
    K3_QUERY_KEY,
    'must be a K3 query field key such as FNote or FCustomerID.FName / 应为金蝶查询字段标识',
  );
const dictionaryName = z
  .string()
  .regex(NAME, 'must be a dictionary name (letters, digits, _) / 应为字典名称（字母、数字、下划线）');
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const k3FormIds = ['SAL_OUTSTOCK', 'SAL_DELIVERYNOTICE'] as const;

/**
 * A value dictionary: source value → target value (CRM option value → K3 number for CRM → K3 flows, K3
 * value → CRM option value for ERP → CRM), with what to do for values it does not list.
 */
export const dictionarySchema = z
  .strictObject({
    /** Source value → target value. Keys are compared as text (`1` and `"1"` are the same key). */
    values: z.record(z.string(), z.string()).default({}),
    /** Used when the source value is empty, and for unlisted values when `unmapped: default`. */
    default: z.string().min(1, 'must not be empty / 不能为空').optional(),
    /** `error` (default): an unlisted value fails the record (kind `config`); `default`: use `default`. */
    unmapped: z.enum(['error', 'default']).default('error'),
  })
  .superRefine((dictionary, ctx) => {
    if (dictionary.unmapped === 'default' && dictionary.default === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['default'],
        message: 'is required when unmapped is "default" / unmapped 为 default 时必须设置 default',
      });
    }
  });
export type Dictionary = z.output<typeof dictionarySchema>;

/** How a CRM field value is read (CRM → K3). */
export const CRM_READ_MODES = ['text', 'number', 'date', 'boolean', 'id'] as const;
/** How a K3 query value is read (ERP → CRM). */
export const ERP_READ_MODES = ['text', 'number', 'date', 'datetime', 'boolean'] as const;

function checkRule(
  rule: { from?: unknown; const?: unknown; read: string; maxLength?: unknown; decimals?: unknown },
  ctx: z.RefinementCtx,
): void {
  if ((rule.from === undefined) === (rule.const === undefined)) {
    ctx.addIssue({
      code: 'custom',
      message:
        'give exactly one of "from" (a source field) or "const" (a fixed value) / from 与 const 必须且只能设置一个',
    });
  }
  if (rule.maxLength !== undefined && rule.read !== 'text') {
    ctx.addIssue({
      code: 'custom',
      path: ['maxLength'],
      message: 'only applies to read: text / 仅适用于 read: text',
    });
  }
  if (rule.decimals !== undefined && rule.read !== 'number') {
    ctx.addIssue({
      code: 'custom',
      path: ['decimals'],
      message: 'only applies to read: number / 仅适用于 read: number',
    });
  }
}

/** A bare string is short for `{from: <string>}`: `FTEL: tel`. */
const fromShorthand = (value: unknown) => (typeof value === 'string' ? { from: value } : value);

/** One K3 field filled from a CRM record (CRM → K3 flows). */
export const crmToK3RuleSchema = z.preprocess(
  fromShorthand,
  z
    .strictObject({
      /** The CRM field apiName to read (`name`, `owner`, `field_tax_no__c`). */
      from: crmField.optional(),
      /** A fixed value instead of a CRM field. */
      const: scalar.optional(),
      /** How to read `from`: text (default), number, date (epoch ms → yyyy-MM-dd GMT+8), boolean, id. */
      read: z.enum(CRM_READ_MODES).default('text'),
      /** Trim surrounding white space of text (default true). */
      trim: z.boolean().default(true),
      /** Truncate longer text to this many characters, with a note in the mapping result. */
      maxLength: z.int().positive().optional(),
      /** Round numbers to this many decimals (half away from zero). */
      decimals: z.int().min(0).max(10).optional(),
      /** Name of a dictionary (this flow's, else the shared one) to translate the value through. */
      dictionary: dictionaryName.optional(),
      /** Write the value as a reference object with this key: `FNumber` → `{"FNumber": value}`. */
      ref: k3Key.optional(),
      /** Value used when the CRM field is empty. */
      default: scalar.optional(),
      /** An empty value (after default and dictionary default) fails the record (kind business). */
      required: z.boolean().default(false),
      /** Write only when creating; never on updates (organisations, numbering fields). */
      createOnly: z.boolean().default(false),
    })
    .superRefine(checkRule),
);
export type CrmToK3Rule = z.output<typeof crmToK3RuleSchema>;

/** One CRM field filled from a K3 query row (ERP → CRM flow). */
export const erpToCrmRuleSchema = z.preprocess(
  fromShorthand,
  z
    .strictObject({
      /** The K3 query field key to read (`FNote`, `FCustomerID.FName`); it is added to the query. */
      from: k3QueryKey.optional(),
      const: scalar.optional(),
      /** text (default), number, date (→ epoch ms at 00:00 GMT+8), datetime (→ epoch ms), boolean. */
      read: z.enum(ERP_READ_MODES).default('text'),
      trim: z.boolean().default(true),
      maxLength: z.int().positive().optional(),
      decimals: z.int().min(0).max(10).optional(),
      dictionary: dictionaryName.optional(),
      default: scalar.optional(),
      required: z.boolean().default(false),
    })
    .superRefine(checkRule),
);
export type ErpToCrmRule = z.output<typeof erpToCrmRuleSchema>;

/**
 * How the pipeline finds an existing ERP record before creating one, so a lost Save response never creates
 * a duplicate: the ERP field `erpField` holds the value of the CRM field `crmField`.
 */
const externalKeySchema = z.strictObject({
  /** The K3 field holding the key: an extension text field (`F_FXK_CrmId`), `FNumber` or `FBillNo`. */
  erpField: k3Key,
  /** The CRM field whose value is stored there (default `_id`, the CRM record id). */
  crmField: crmField.default('_id'),
});
export type ExternalKey = z.output<typeof externalKeySchema>;

const writeBackSchema = z.strictObject({
  /** CRM field that receives the ERP number after a successful Save (`field_erp_no__c`). */
  crmField,
});

const fieldsOf = <T extends z.ZodType>(rule: T) => z.record(k3TargetKey, rule).default({});
const dictionariesSchema = z.record(dictionaryName, dictionarySchema).default({});

// ---------------------------------------------------------------------------------------------------------
// Shared sections

const erpSchema = z.strictObject({
  /** Default organisation number (create/use org of customers, sale org of orders). Required. */
  orgNumber: k3Code,
  /** Settlement / trading currency (default `PRE001`, Kingdee's preset number of CNY). */
  currencyNumber: k3Code.default('PRE001'),
  /** Customer tax rate reference (default `SL02_SYS`, the preset 13% rate). */
  taxRateNumber: k3Code.default('SL02_SYS'),
  /** Order line tax rate in percent (default 13). */
  taxRatePercent: z.number().min(0).max(100).default(13),
  billTypes: z
    .strictObject({
      /** Sales order bill type (default `XSDD01_SYS` 标准销售订单). */
      saleOrder: k3Code.default('XSDD01_SYS'),
      /** Purchase orders picked for the in-stock push (default `CGDD01_SYS` 标准采购订单). */
      purchaseOrder: k3Code.default('CGDD01_SYS'),
    })
    .prefault({}),
  /**
   * UTC offset of the K3Cloud server's clock in minutes (default 480 = GMT+8). K3 returns datetimes as local
   * wall-clock text without a zone; this turns them into instants for CRM datetime fields.
   */
  utcOffsetMinutes: z.int().min(-720).max(840).default(480),
});

const crmSchema = z
  .strictObject({
    /** Records whose life_status is not listed are not synced (default `[normal]`: approved records only). */
    syncLifeStatuses: z.array(z.string().min(1)).min(1).default(['normal']),
  })
  .prefault({});

// ---------------------------------------------------------------------------------------------------------
// Flows

const flowBase = {
  /** A flow whose section is present runs unless `enabled: false`. */
  enabled: z.boolean().default(true),
};

const accountToCustomerSchema = z.strictObject({
  ...flowBase,
  externalKey: externalKeySchema,
  /** Create and use organisation of new customers (default `erp.orgNumber`). */
  orgNumber: k3Code.optional(),
  /** Submit and audit after Save (default true: K3 orders only accept audited customers). */
  submitAndAudit: z.boolean().default(true),
  /**
   * Updating an audited customer needs UnAudit → Save → Submit → Audit (K3 refuses to modify an audited
   * record). Default true; false makes such an update a business error instead.
   */
  unAuditToUpdate: z.boolean().default(true),
  /** Allocate (分配) new customers to other organisations after the audit. */
  allocate: z
    .strictObject({
      orgNumbers: z.array(k3Code).min(1),
      /** Submit and audit the allocated copies (default true). */
      autoAudit: z.boolean().default(true),
    })
    .optional(),
  /** Write the ERP customer number back to this CRM field. */
  writeBack: writeBackSchema.optional(),
  /** K3 BD_Customer field → rule. */
  fields: fieldsOf(crmToK3RuleSchema),
  dictionaries: dictionariesSchema,
});

const salesOrderToSaleOrderSchema = z.strictObject({
  ...flowBase,
  externalKey: externalKeySchema,
  /** Default `erp.billTypes.saleOrder`. */
  billTypeNumber: k3Code.optional(),
  /** Default `erp.orgNumber`. */
  saleOrgNumber: k3Code.optional(),
  /** Line settlement organisation (default: the sale organisation). */
  settleOrgNumber: k3Code.optional(),
  /** Line stock organisation (default: the sale organisation). */
  stockOrgNumber: k3Code.optional(),
  /** Default `erp.currencyNumber`. */
  currencyNumber: k3Code.optional(),
  /** Default `erp.taxRatePercent`. */
  taxRatePercent: z.number().min(0).max(100).optional(),
  /** CRM `sales_price` includes tax (default true) → FTaxPrice; false → FPrice. */
  priceIncludesTax: z.boolean().default(true),
  /** Order line unit price field (default `sales_price`). */
  priceField: crmField.default('sales_price'),
  /**
   * Order line discount field in percent (e.g. `discount`): when set, the price sent is price × discount/100.
   * Unset (default) when the price field is already the net price.
   */
  discountField: crmField.optional(),
  /** Order line amount field checked against quantity × net price (default `subtotal`). */
  subtotalField: crmField.default('subtotal'),
  /** A line whose amount differs from quantity × net price by more than 0.01 fails (default true). */
  checkSubtotal: z.boolean().default(true),
  /** A line priced 0: `error` (default; K3: 非赠品单价不能为0) or `free` (send it as a gift, FIsFree). */
  zeroPriceLines: z.enum(['error', 'free']).default('error'),
  /** CRM date field → FDate (default `order_time`). */
  dateField: crmField.default('order_time'),
  /** CRM date field → line FDeliveryDate (default `delivery_date`; empty → the order date). */
  deliveryDateField: crmField.default('delivery_date'),
  /** How a CRM product names its ERP material (the pipeline resolves and checks it). */
  material: z
    .strictObject({
      /** ProductObj field holding the material number (default `product_code`). */
      crmField: crmField.default('product_code'),
      /** ProductObj field that, when filled, wins over `crmField` (e.g. `field_erp_material_no__c`). */
      overrideField: crmField.optional(),
      /** ProductObj field holding the unit (e.g. `unit`), translated by `unitDictionary`. */
      unitField: crmField.optional(),
      unitDictionary: dictionaryName.optional(),
    })
    .prefault({}),
  /** Unit number when neither the material nor the product gives one. */
  defaultUnitNumber: k3Code.optional(),
  /** Entry extension field holding the CRM line id; lets updates keep each line's FEntryID exactly. */
  entryKey: externalKeySchema.optional(),
  /** Submit and audit after Save (default true). */
  submitAndAudit: z.boolean().default(true),
  /**
   * Updating an audited order needs UnAudit → Save → Submit → Audit (K3: 单据已审核，不允许修改). Default true
   * (logged each time); false makes such an update a business error instead. K3 itself refuses to un-audit
   * an order that was already pushed to a delivery notice.
   */
  unAuditToUpdate: z.boolean().default(true),
  /** Write the ERP bill number back to this CRM field. */
  writeBack: writeBackSchema.optional(),
  /** K3 SAL_SaleOrder header field → rule (read from the SalesOrderObj record). */
  fields: fieldsOf(crmToK3RuleSchema),
  /** K3 FSaleOrderEntry field → rule (read from each SalesOrderProductObj row). */
  entryFields: fieldsOf(crmToK3RuleSchema),
  dictionaries: dictionariesSchema,
});

const pushTargetFields = {
  /** K3 internal id of the target bill type (empty = the rule's default). */
  targetBillTypeId: z.string().default(''),
  /** Target organisation number (empty = the rule's default); resolved to an id by the pipeline. */
  targetOrgNumber: k3Code.optional(),
  /** Submit and audit the pushed bill (default false: the warehouse reviews it in K3). */
  submitAndAudit: z.boolean().default(false),
  /** Save a target that fails validation as a draft instead of failing (default false). */
  draftWhenSaveFails: z.boolean().default(false),
};

const saleOrderToDeliveryNoticeSchema = z.strictObject({
  ...flowBase,
  /** The CRM state that requests delivery: `crmField` equals `equals`, or is one of `in`. */
  trigger: z
    .strictObject({
      crmField,
      equals: scalar.optional(),
      in: z.array(scalar).min(1).optional(),
    })
    .superRefine((trigger, ctx) => {
      if ((trigger.equals === undefined) === (trigger.in === undefined)) {
        ctx.addIssue({
          code: 'custom',
          message: 'give exactly one of "equals" or "in" / equals 与 in 必须且只能设置一个',
        });
      }
    }),
  /** Conversion rule (default `SaleOrder-DeliveryNotice`). */
  ruleId: z.string().min(1).default('SaleOrder-DeliveryNotice'),
  targetFormId: k3Key.default('SAL_DELIVERYNOTICE'),
  ...pushTargetFields,
});

const purchaseOrderToInStockSchema = z.strictObject({
  ...flowBase,
  /** Purchase organisations whose orders are pushed (default `[erp.orgNumber]`). */
  purchaseOrgNumbers: z.array(k3Code).min(1).optional(),
  /** Bill types pushed (default `[erp.billTypes.purchaseOrder]`). */
  billTypeNumbers: z.array(k3Code).min(1).optional(),
  /** Only these suppliers (default: all). */
  supplierNumbers: z.array(k3Code).min(1).optional(),
  /** Extra K3 FilterString condition, AND-ed as written (e.g. `FCloseStatus = 'A'`). */
  extraFilter: z.string().min(1).optional(),
  /** Re-read window before the scheduler's watermark, in ms (default 600000 = 10 min). */
  overlapMs: z.int().min(0).max(86_400_000).default(600_000),
  /** Purchase orders per query page (default 100). */
  pageSize: z.int().min(1).max(10_000).default(100),
  /** Conversion rule (default `PUR_PurchaseOrder-STK_InStock`). */
  ruleId: z.string().min(1).default('PUR_PurchaseOrder-STK_InStock'),
  targetFormId: k3Key.default('STK_InStock'),
  ...pushTargetFields,
});

const deliveryToFxiaokeSchema = z.strictObject({
  ...flowBase,
  /** ERP forms polled (default `[SAL_OUTSTOCK]`); each keeps its own cursor. */
  sourceForms: z
    .array(z.enum(k3FormIds))
    .min(1)
    .default(['SAL_OUTSTOCK'])
    .refine((forms) => new Set(forms).size === forms.length, 'must not repeat a form / 不能重复'),
  /** Only bills of these sale organisations (default: all). */
  saleOrgNumbers: z.array(k3Code).min(1).optional(),
  /** Only audited bills become CRM delivery notes (default true); others are reported as skipped. */
  onlyAudited: z.boolean().default(true),
  /** First-run lower bound on FModifyDate, `yyyy-MM-dd` (default: none = all history). */
  startFrom: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date yyyy-MM-dd / 应为日期 yyyy-MM-dd')
    .refine((date) => parseK3NaiveMs(date) !== undefined, 'is not a calendar date / 不是有效日期')
    .optional(),
  /** Re-read window before the cursor, in ms (default 300000 = 5 min): late commits are not missed. */
  overlapMs: z.int().min(0).max(86_400_000).default(300_000),
  /** Rows per ExecuteBillQuery page (default 500; one row per entry line). */
  pageSize: z.int().min(1).max(10_000).default(500),
  note: z.strictObject({
    /** Default `DeliveryNoteObj`. */
    objectApiName: crmField.default('DeliveryNoteObj'),
    /** CRM field holding the ERP bill number: the external key of idempotent creates. Required. */
    externalKeyField: crmField,
    /** CRM field receiving the ERP form id (SAL_OUTSTOCK / SAL_DELIVERYNOTICE); optional. */
    formIdField: crmField.optional(),
    /** Default `sales_order_id`. */
    orderField: crmField.default('sales_order_id'),
    /** Default `account_id` (copied from the CRM order). */
    accountField: crmField.default('account_id'),
    /** CRM date field receiving FDate (default `delivery_date`). */
    dateField: crmField.default('delivery_date'),
    /** CRM field → rule over the bill's first row. */
    fields: z.record(crmField, erpToCrmRuleSchema).default({}),
  }),
  noteLine: z
    .strictObject({
      /** Default `DeliveryNoteProductObj`. */
      detailApiName: crmField.default('DeliveryNoteProductObj'),
      /** Default `product_id`. */
      productField: crmField.default('product_id'),
      /** Default `delivery_num`. */
      quantityField: crmField.default('delivery_num'),
      /** Default `sales_order_product_id`; filled when exactly one order line has the product. */
      orderLineField: crmField.default('sales_order_product_id'),
      /** CRM field → rule over each entry row. */
      fields: z.record(crmField, erpToCrmRuleSchema).default({}),
    })
    .prefault({}),
  /** Write the order's delivery status (unshipped / partial / shipped) back to the CRM order. */
  orderStatus: z
    .strictObject({
      crmField,
      /** CRM option value per status (default: the status names). */
      values: z
        .strictObject({
          unshipped: z.string().min(1).default('unshipped'),
          partial: z.string().min(1).default('partial'),
          shipped: z.string().min(1).default('shipped'),
        })
        .prefault({}),
      /** The form whose quantities count as delivered (default: the first of `sourceForms`). */
      basedOn: z.enum(k3FormIds).optional(),
    })
    .optional(),
  dictionaries: dictionariesSchema,
});

const flowsSchema = z
  .strictObject({
    accountToCustomer: accountToCustomerSchema.optional(),
    salesOrderToSaleOrder: salesOrderToSaleOrderSchema.optional(),
    saleOrderToDeliveryNotice: saleOrderToDeliveryNoticeSchema.optional(),
    purchaseOrderToInStock: purchaseOrderToInStockSchema.optional(),
    deliveryToFxiaoke: deliveryToFxiaokeSchema.optional(),
  })
  .prefault({});

/** K3 keys a flow writes itself; a `fields` entry for them would fight the flow. */
const RESERVED_TARGETS: Readonly<
  Record<string, { fields: readonly string[]; entryFields?: readonly string[] }>
> = {
  accountToCustomer: { fields: ['FCUSTID'] },
  salesOrderToSaleOrder: {
    fields: ['FID', 'FCustId', 'FSaleOrderEntry'],
    entryFields: ['FEntryID', 'FMaterialId'],
  },
};

type Issue = { path: (string | number)[]; message: string };

function checkDictionaryRefs(
  flowId: string,
  rules: Readonly<Record<string, { dictionary?: string | undefined }>>,
  section: string,
  known: (name: string) => boolean,
  issues: Issue[],
): void {
  for (const [target, rule] of Object.entries(rules)) {
    if (rule.dictionary !== undefined && !known(rule.dictionary)) {
      issues.push({
        path: ['flows', flowId, section, target, 'dictionary'],
        message: `no dictionary named "${rule.dictionary}" in flows.${flowId}.dictionaries or the shared dictionaries / 未定义名为 "${rule.dictionary}" 的字典`,
      });
    }
  }
}

function checkTargets(
  flowId: string,
  section: string,
  targets: readonly string[],
  keyField: string | undefined,
  issues: Issue[],
): void {
  const reservedList =
    section === 'entryFields' ? RESERVED_TARGETS[flowId]?.entryFields : RESERVED_TARGETS[flowId]?.fields;
  const reserved = keyField === undefined ? reservedList : [...(reservedList ?? []), keyField];
  const lower = new Map<string, string>();
  for (const target of targets) {
    if (reserved?.some((key) => key.toLowerCase() === target.toLowerCase())) {
      issues.push({
        path: ['flows', flowId, section, target],
        message: `${target} is written by the flow itself (primary key, resolved reference or external key); remove it / ${target} 由同步流程自动填写（主键、已解析的引用或外部键），请删除此项`,
      });
    }
    const key = target.toLowerCase();
    const head = key.split('.')[0] ?? key;
    const clash = lower.get(key) ?? (key.includes('.') ? lower.get(head) : undefined);
    if (clash !== undefined) {
      issues.push({
        path: ['flows', flowId, section, target],
        message: `conflicts with ${clash} (K3 keys are case-insensitive) / 与 ${clash} 冲突（金蝶字段标识不区分大小写）`,
      });
    }
    lower.set(key, target);
    if (!key.includes('.')) {
      for (const [other, original] of lower) {
        if (other.startsWith(`${key}.`)) {
          issues.push({
            path: ['flows', flowId, section, target],
            message: `conflicts with ${original} / 与 ${original} 冲突`,
          });
        }
      }
    }
  }
}

/** Checks across sections, run once every section is valid on its own. */
function crossCheck(config: z.output<typeof syncConfigObject>, ctx: z.RefinementCtx): void {
  const issues: Issue[] = [];
  const shared = config.dictionaries;
  const flows = config.flows;
  const knownIn =
    (own: Readonly<Record<string, unknown>>) =>
    (name: string): boolean =>
      Object.hasOwn(own, name) || Object.hasOwn(shared, name);

  const customer = flows.accountToCustomer;
  if (customer) {
    const known = knownIn(customer.dictionaries);
    checkDictionaryRefs('accountToCustomer', customer.fields, 'fields', known, issues);
    checkTargets(
      'accountToCustomer',
      'fields',
      Object.keys(customer.fields),
      customer.externalKey.erpField,
      issues,
    );
    if (!Object.keys(customer.fields).some((key) => key.toLowerCase() === 'fname')) {
      issues.push({
        path: ['flows', 'accountToCustomer', 'fields'],
        message:
          'must map FName (客户名称 is required by BD_Customer), e.g. FName: name / 必须映射 FName（客户名称）',
      });
    }
  }
  const order = flows.salesOrderToSaleOrder;
  if (order) {
    const known = knownIn(order.dictionaries);
    checkDictionaryRefs('salesOrderToSaleOrder', order.fields, 'fields', known, issues);
    checkDictionaryRefs('salesOrderToSaleOrder', order.entryFields, 'entryFields', known, issues);
    checkTargets(
      'salesOrderToSaleOrder',
      'fields',
      Object.keys(order.fields),
      order.externalKey.erpField,
      issues,
    );
    for (const target of Object.keys(order.entryFields)) {
      if (target.includes('.')) {
        issues.push({
          path: ['flows', 'salesOrderToSaleOrder', 'entryFields', target],
          message:
            'entry rows have no sub-headers; use a plain field key / 分录没有子表头，请使用普通字段标识',
        });
      }
    }
    checkTargets(
      'salesOrderToSaleOrder',
      'entryFields',
      Object.keys(order.entryFields),
      order.entryKey?.erpField,
      issues,
    );
    if (order.material.unitDictionary !== undefined && !known(order.material.unitDictionary)) {
      issues.push({
        path: ['flows', 'salesOrderToSaleOrder', 'material', 'unitDictionary'],
        message: `no dictionary named "${order.material.unitDictionary}" / 未定义名为 "${order.material.unitDictionary}" 的字典`,
      });
    }
    if ((order.material.unitField === undefined) !== (order.material.unitDictionary === undefined)) {
      issues.push({
        path: ['flows', 'salesOrderToSaleOrder', 'material'],
        message: 'unitField and unitDictionary go together / unitField 与 unitDictionary 需同时设置',
      });
    }
  }
  const notice = flows.saleOrderToDeliveryNotice;
  if (notice?.enabled && !order?.enabled) {
    issues.push({
      path: ['flows', 'saleOrderToDeliveryNotice'],
      message:
        'needs flows.salesOrderToSaleOrder enabled (only synced orders can be pushed) / 需启用 salesOrderToSaleOrder（只能下推已同步的订单）',
    });
  }
  const delivery = flows.deliveryToFxiaoke;
  if (delivery) {
    const reserved: [string, readonly string[]][] = [
      ['note', [delivery.note.externalKeyField, delivery.note.orderField]],
      ['noteLine', [delivery.noteLine.productField, delivery.noteLine.quantityField]],
    ];
    for (const [section, keys] of reserved) {
      const rules = section === 'note' ? delivery.note.fields : delivery.noteLine.fields;
      for (const target of Object.keys(rules)) {
        if (keys.includes(target)) {
          issues.push({
            path: ['flows', 'deliveryToFxiaoke', section, 'fields', target],
            message: `${target} is written by the flow itself (external key, order or product link, quantity); remove it / ${target} 由同步流程自动填写，请删除此项`,
          });
        }
      }
    }
    const known = knownIn(delivery.dictionaries);
    for (const [section, rules] of [
      ['note', delivery.note.fields],
      ['noteLine', delivery.noteLine.fields],
    ] as const) {
      for (const [target, rule] of Object.entries(rules)) {
        if (rule.dictionary !== undefined && !known(rule.dictionary)) {
          issues.push({
            path: ['flows', 'deliveryToFxiaoke', section, 'fields', target, 'dictionary'],
            message: `no dictionary named "${rule.dictionary}" / 未定义名为 "${rule.dictionary}" 的字典`,
          });
        }
      }
    }
  }
  for (const issue of issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
}

const syncConfigObject = z.strictObject({
  /** Format version of this file (default 1). */
  version: z.literal(1).default(1),
  erp: erpSchema,
  crm: crmSchema,
  /** Dictionaries every flow can use by name (a flow's own dictionary of the same name wins). */
  dictionaries: dictionariesSchema,
  flows: flowsSchema,
});

/** The whole mapping configuration. */
export const syncConfigSchema = syncConfigObject.superRefine(crossCheck);

export type SyncConfig = z.output<typeof syncConfigSchema>;
export type AccountToCustomerFlow = z.output<typeof accountToCustomerSchema>;
export type SalesOrderToSaleOrderFlow = z.output<typeof salesOrderToSaleOrderSchema>;
export type SaleOrderToDeliveryNoticeFlow = z.output<typeof saleOrderToDeliveryNoticeSchema>;
export type PurchaseOrderToInStockFlow = z.output<typeof purchaseOrderToInStockSchema>;
export type DeliveryToFxiaokeFlow = z.output<typeof deliveryToFxiaokeSchema>;
export type DeliverySourceForm = (typeof k3FormIds)[number];
export type FlowId = keyof SyncConfig['flows'];

/** Flow ids as the config names them, with the kebab-case names used for functions and queues. */
export const FLOW_NAMES: Readonly<Record<FlowId, string>> = {
  accountToCustomer: 'account-to-customer',
  salesOrderToSaleOrder: 'sales-order-to-sale-order',
  saleOrderToDeliveryNotice: 'sale-order-to-delivery-notice',
  purchaseOrderToInStock: 'purchase-order-to-in-stock',
  deliveryToFxiaoke: 'delivery-to-fxiaoke',
};

export type ConfigFormat = 'yaml' | 'json';

export interface ParseSyncConfigOptions {
  /** Default: from the source's extension (`.json` → json), else yaml. */
  format?: ConfigFormat;
  /** Where the text came from (a file path, an SSM parameter name); starts every problem line. */
  source?: string;
}

/**
 * Parse and validate a mapping configuration.
 *
 * @throws {ConfigError} with one line per problem: `<source>:<line>:<column>: <exact path>: <message>`
 *   (line and column when the text gives them), covering syntax errors, wrong types, unknown keys and
 *   cross-section checks.
 */
export function parseSyncConfig(text: string, options: ParseSyncConfigOptions = {}): SyncConfig {
  const source = options.source ?? '(config)';
  const format = options.format ?? (extname(source).toLowerCase() === '.json' ? 'json' : 'yaml');
  return parseConfigText(syncConfigSchema, text, { format, source });
}

/**
 * Read and validate a mapping configuration file (`.yaml`, `.yml` or `.json`).
 *
 * @throws {ConfigError} when the file cannot be read or is invalid (see {@link parseSyncConfig}).
 */
export async function loadSyncConfigFile(path: string): Promise<SyncConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error && 'code' in error ? String(error.code) : String(error);
    throw new ConfigError(
      [`${path}: 无法读取配置文件 / cannot read the mapping config file (${reason})`],
      error,
    );
  }
  return parseSyncConfig(text, { source: path });
}

/**
 * The section of a flow, or a config error when the flow is absent or disabled — a mapping must never run
 * on a flow the operator switched off.
 *
 * @throws {ConfigError} when the flow is not configured or `enabled: false`.
 */
export function requireFlow<K extends FlowId>(
  config: SyncConfig,
  flowId: K,
): NonNullable<SyncConfig['flows'][K]> {
  const flow = config.flows[flowId];
  if (!flow?.enabled) {
    throw new ConfigError([
      `flows.${flowId}: 同步流程 ${FLOW_NAMES[flowId]} 未配置或未启用 / flow ${FLOW_NAMES[flowId]} is not configured or not enabled`,
    ]);
  }
  return flow;
}

/** The dictionary a rule names: the flow's own first, then the shared ones. */
export function findDictionary(
  config: SyncConfig,
  flowDictionaries: Readonly<Record<string, Dictionary>>,
  name: string,
): Dictionary | undefined {
  if (Object.hasOwn(flowDictionaries, name)) return flowDictionaries[name];
  return Object.hasOwn(config.dictionaries, name) ? config.dictionaries[name] : undefined;
}

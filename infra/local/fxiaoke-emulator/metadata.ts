/**
 * Fxiaoke CRM objects described once, as data.
 *
 * Each object is a list of fields with the describe types of spec §5.3 (text, number, currency, date,
 * select_one, object_reference, master_detail, employee, auto_number, …). One generic engine
 * (`engine.ts`) implements create/update/get/query/invalid/describe over these descriptions; adding an
 * object — or a custom object `object_xxx__c` — is a data change: pass it in `objects` or drop a JSON file in
 * `<dataDir>/objects/` (validated by {@link objectSpecSchema}).
 *
 * Field apiNames follow Fxiaoke's preset objects as far as public sources show (spec §4.8, §5); where a name
 * is a guess, this file is the single place to correct it.
 */
import { z } from 'zod';
import { invalidParameter } from './errors.ts';

export const FIELD_TYPES = [
  'text',
  'long_text',
  'number',
  'currency',
  'percentile',
  'date',
  'date_time',
  'email',
  'phone_number',
  'url',
  'true_or_false',
  'select_one',
  'select_many',
  'object_reference',
  'master_detail',
  'employee',
  'department',
  'record_type',
  'auto_number',
  'image',
  'file_attachment',
  'location',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

const API_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const optionSchema = z.object({ value: z.string().min(1), label: z.string().min(1) });

/**
 * How an `auto_number` field is numbered: `${prefix}${date}${separator}${serial}`, e.g. Fxiaoke's sales
 * order numbers `20200817-000023` (spec §5.1) = prefix '', date yyyyMMdd, '-', 6 digits, reset daily.
 */
const autoNumberSchema = z.object({
  prefix: z.string().default(''),
  dateFormat: z.enum(['yyyyMMdd', 'none']).default('yyyyMMdd'),
  separator: z.string().default('-'),
  serialDigits: z.number().int().min(1).max(12).default(6),
  reset: z.enum(['daily', 'never']).default('daily'),
});

/** Computed (read-only) fields: a line amount on a detail, or a sum of detail amounts on a master. */
const computeSchema = z.discriminatedUnion('kind', [
  /** quantity × price × discount/100, rounded to the field's decimals (订单产品 小计). */
  z.object({
    kind: z.literal('line_amount'),
    quantity: z.string(),
    price: z.string(),
    discount: z.string().optional(),
  }),
  /** Sum of `field` over the record's live detail rows of object `detail` (销售订单 订单金额). */
  z.object({ kind: z.literal('detail_sum'), detail: z.string(), field: z.string() }),
]);

export const fieldSpecSchema = z.object({
  apiName: z.string().regex(API_NAME, 'must be a valid field apiName'),
  type: z.enum(FIELD_TYPES),
  label: z.string().min(1),
  required: z.boolean().default(false),
  description: z.string().optional(),
  /** select_one / select_many / record_type options. */
  options: z.array(optionSchema).optional(),
  /** Target object of object_reference / master_detail. */
  target: z.string().optional(),
  maxLength: z.number().int().positive().optional(),
  /** number/currency/percentile: values are returned as strings with this many decimals. */
  decimalPlaces: z.number().int().min(0).max(8).optional(),
  /** Applied on create when the field is absent. `$today$` = today 00:00 GMT+8 (date fields). */
  defaultValue: z.unknown().optional(),
  autoNumber: autoNumberSchema.optional(),
  compute: computeSchema.optional(),
});
export type FieldSpec = z.output<typeof fieldSpecSchema>;
export type FieldSpecInput = z.input<typeof fieldSpecSchema>;

export const objectSpecSchema = z.object({
  apiName: z.string().regex(API_NAME, 'must be a valid object apiName'),
  displayName: z.string().min(1),
  fields: z.array(fieldSpecSchema).min(1),
});
export type ObjectSpecInput = z.input<typeof objectSpecSchema>;
export type ObjectSpec = z.output<typeof objectSpecSchema>;

/** Where a field comes from, as describe's `define_type` says. */
export type DefineType = 'system' | 'package' | 'custom';

export interface CompiledField extends FieldSpec {
  defineType: DefineType;
  /** System-managed: ignored on input (except where create flags allow, e.g. `hasSpecifyTime`). */
  readOnly: boolean;
}

export interface CompiledObject {
  apiName: string;
  displayName: string;
  defineType: 'package' | 'custom';
  fields: ReadonlyMap<string, CompiledField>;
  /** The master_detail field when this object is a detail object (e.g. `order_id`). */
  masterField: CompiledField | undefined;
  /** Detail objects of this master, by apiName. */
  detailApiNames: string[];
}

/** Life statuses seen in Fxiaoke records (spec §5.1; `invalid` is INFER). */
export const LIFE_STATUS_OPTIONS = [
  { value: 'normal', label: '正常' },
  { value: 'invalid', label: '作废' },
  { value: 'under_review', label: '审核中' },
  { value: 'ineffective', label: '未生效' },
  { value: 'in_change', label: '变更中' },
];

/** Fields every object has (spec §5.1); they are added to each object, never declared. */
const SYSTEM_FIELDS: FieldSpecInput[] = [
  { apiName: '_id', type: 'text', label: '数据ID' },
  { apiName: 'object_describe_api_name', type: 'text', label: '对象apiName' },
  { apiName: 'tenant_id', type: 'text', label: '企业ID' },
  { apiName: 'owner', type: 'employee', label: '负责人' },
  { apiName: 'data_own_department', type: 'department', label: '归属部门' },
  { apiName: 'created_by', type: 'employee', label: '创建人' },
  { apiName: 'create_time', type: 'date_time', label: '创建时间' },
  { apiName: 'last_modified_by', type: 'employee', label: '最后修改人' },
  { apiName: 'last_modified_time', type: 'date_time', label: '最后修改时间' },
  { apiName: 'life_status', type: 'select_one', label: '生命状态', options: LIFE_STATUS_OPTIONS },
  { apiName: 'life_status_before_invalid', type: 'text', label: '作废前生命状态' },
  {
    apiName: 'lock_status',
    type: 'select_one',
    label: '锁定状态',
    options: [
      { value: '0', label: '未锁定' },
      { value: '1', label: '锁定' },
    ],
  },
  {
    apiName: 'record_type',
    type: 'record_type',
    label: '业务类型',
    options: [{ value: 'default__c', label: '预设业务类型' }],
  },
  { apiName: 'version', type: 'number', label: '版本' },
  { apiName: 'is_deleted', type: 'true_or_false', label: '是否删除' },
];

/** System fields a client may set on write (others are managed by the server). */
const WRITABLE_SYSTEM_FIELDS = new Set(['owner', 'data_own_department', 'record_type', 'lock_status']);

const text = (apiName: string, label: string, extra: Partial<FieldSpecInput> = {}): FieldSpecInput => ({
  apiName,
  type: 'text',
  label,
  maxLength: 255,
  ...extra,
});
const longText = (apiName: string, label: string): FieldSpecInput => ({
  apiName,
  type: 'long_text',
  label,
  maxLength: 2000,
});
const money = (apiName: string, label: string, extra: Partial<FieldSpecInput> = {}): FieldSpecInput => ({
  apiName,
  type: 'currency',
  label,
  decimalPlaces: 2,
  ...extra,
});
const lookup = (apiName: string, label: string, target: string, required = false): FieldSpecInput => ({
  apiName,
  type: 'object_reference',
  label,
  target,
  required,
});
const master = (apiName: string, label: string, target: string): FieldSpecInput => ({
  apiName,
  type: 'master_detail',
  label,
  target,
  required: true,
});
const dateField = (apiName: string, label: string, extra: Partial<FieldSpecInput> = {}): FieldSpecInput => ({
  apiName,
  type: 'date',
  label,
  ...extra,
});
const autoName = (label: string, prefix = ''): FieldSpecInput => ({
  apiName: 'name',
  type: 'auto_number',
  label,
  autoNumber: { prefix, dateFormat: 'yyyyMMdd', separator: '-', serialDigits: 6, reset: 'daily' },
});
const options = (...pairs: [string, string][]) => pairs.map(([value, label]) => ({ value, label }));

/** The preset objects the project uses, plus one sample custom object. */
export const BUILTIN_OBJECTS: ObjectSpecInput[] = [
  {
    apiName: 'AccountObj',
    displayName: '客户',
    fields: [
      text('name', '客户名称', { required: true }),
      text('account_no', '客户编号'),
      {
        apiName: 'account_level',
        type: 'select_one',
        label: '客户级别',
        options: options(['1', '重要客户'], ['2', '普通客户'], ['3', '小客户']),
      },
      {
        apiName: 'account_source',
        type: 'select_one',
        label: '来源',
        options: options(
          ['1', '广告'],
          ['2', '研讨会'],
          ['3', '搜索引擎'],
          ['4', '客户介绍'],
          ['other', '其他'],
        ),
      },
      { apiName: 'tel', type: 'phone_number', label: '电话' },
      { apiName: 'fax', type: 'phone_number', label: '传真' },
      { apiName: 'email', type: 'email', label: '邮件' },
      { apiName: 'url', type: 'url', label: '网址' },
      text('address', '详细地址'),
      // Fxiaoke's area fields are typed country/province/city/district and hold area codes; the sync treats
      // them as text, so the emulator stores free text (spec task: "text is fine").
      text('country', '国家'),
      text('province', '省'),
      text('city', '市'),
      text('district', '区'),
      text('uniform_social_credit_code', '统一社会信用代码'),
      longText('remark', '备注'),
      text('field_erp_no__c', 'ERP客户编码'),
      text('field_tax_no__c', '税号'),
      text('field_bank_name__c', '开户银行'),
      text('field_bank_account__c', '银行账号'),
    ],
  },
  {
    apiName: 'ContactObj',
    displayName: '联系人',
    fields: [
      text('name', '姓名', { required: true }),
      lookup('account_id', '客户名称', 'AccountObj'),
      { apiName: 'mobile', type: 'phone_number', label: '手机' },
      { apiName: 'tel', type: 'phone_number', label: '电话' },
      { apiName: 'email', type: 'email', label: '邮件' },
      text('job_title', '职务'),
    ],
  },
  {
    apiName: 'ProductObj',
    displayName: '产品',
    fields: [
      text('name', '产品名称', { required: true }),
      text('product_code', '产品编码'),
      {
        apiName: 'unit',
        type: 'select_one',
        label: '单位',
        options: options(['1', '个'], ['2', '箱'], ['3', 'kg']),
      },
      money('price', '标准价格'),
      {
        apiName: 'product_status',
        type: 'select_one',
        label: '上下架',
        options: options(['1', '已上架'], ['2', '已下架']),
        defaultValue: '1',
      },
      text('field_erp_material_no__c', 'ERP物料编码'),
      longText('remark', '备注'),
    ],
  },
  {
    apiName: 'SalesOrderObj',
    displayName: '销售订单',
    fields: [
      autoName('销售订单编号'),
      lookup('account_id', '客户名称', 'AccountObj', true),
      dateField('order_time', '下单日期', { required: true, defaultValue: '$today$' }),
      money('order_amount', '订单金额', {
        compute: { kind: 'detail_sum', detail: 'SalesOrderProductObj', field: 'subtotal' },
      }),
      {
        apiName: 'order_status',
        type: 'select_one',
        label: '状态',
        options: options(['6', '确认'], ['7', '已发货'], ['10', '已收货']),
        defaultValue: '6',
      },
      dateField('delivery_date', '交货日期'),
      longText('remark', '备注'),
      text('field_erp_bill_no__c', 'ERP订单编号'),
      { apiName: 'field_ship_request__c', type: 'true_or_false', label: '申请发货', defaultValue: false },
      {
        apiName: 'field_delivery_status__c',
        type: 'select_one',
        label: '发货状态',
        options: options(['unshipped', '未发货'], ['partial', '部分发货'], ['shipped', '已发货']),
        defaultValue: 'unshipped',
      },
    ],
  },
  {
    apiName: 'SalesOrderProductObj',
    displayName: '订单产品',
    fields: [
      autoName('订单产品编号', 'OP'),
      master('order_id', '销售订单', 'SalesOrderObj'),
      lookup('product_id', '产品名称', 'ProductObj', true),
      { apiName: 'quantity', type: 'number', label: '数量', required: true, decimalPlaces: 2 },
      money('sales_price', '销售单价（含税）'),
      { apiName: 'discount', type: 'percentile', label: '折扣', decimalPlaces: 2, defaultValue: '100' },
      money('subtotal', '小计', {
        compute: { kind: 'line_amount', quantity: 'quantity', price: 'sales_price', discount: 'discount' },
      }),
      longText('remark', '备注'),
    ],
  },
  {
    apiName: 'DeliveryNoteObj',
    displayName: '发货单',
    fields: [
      autoName('发货单编号', 'FH'),
      lookup('sales_order_id', '销售订单', 'SalesOrderObj'),
      lookup('account_id', '客户名称', 'AccountObj'),
      dateField('delivery_date', '发货日期', { defaultValue: '$today$' }),
      {
        apiName: 'status',
        type: 'select_one',
        label: '状态',
        options: options(['1', '待发货'], ['2', '已发货'], ['3', '已收货']),
        defaultValue: '2',
      },
      longText('remark', '备注'),
      text('field_erp_bill_no__c', 'ERP单据编号'),
      text('field_erp_form_id__c', 'ERP单据类型'),
    ],
  },
  {
    apiName: 'DeliveryNoteProductObj',
    displayName: '发货单产品',
    fields: [
      autoName('发货单产品编号', 'FP'),
      master('delivery_note_id', '发货单', 'DeliveryNoteObj'),
      lookup('product_id', '产品名称', 'ProductObj', true),
      lookup('sales_order_product_id', '订单产品', 'SalesOrderProductObj'),
      { apiName: 'delivery_num', type: 'number', label: '本次发货数', required: true, decimalPlaces: 2 },
      longText('remark', '备注'),
    ],
  },
  {
    apiName: 'PaymentObj',
    displayName: '回款',
    fields: [
      autoName('回款编号', 'HK'),
      lookup('account_id', '客户名称', 'AccountObj', true),
      dateField('payment_time', '回款日期', { required: true, defaultValue: '$today$' }),
      money('payment_amount', '回款金额', {
        compute: { kind: 'detail_sum', detail: 'OrderPaymentObj', field: 'payment_amount' },
      }),
      longText('remark', '备注'),
    ],
  },
  {
    apiName: 'OrderPaymentObj',
    displayName: '回款明细',
    fields: [
      autoName('回款明细编号', 'HM'),
      master('payment_id', '回款', 'PaymentObj'),
      lookup('order_id', '销售订单', 'SalesOrderObj'),
      money('payment_amount', '本次回款金额', { required: true }),
      longText('remark', '备注'),
    ],
  },
  {
    apiName: 'object_erp_sync_log__c',
    displayName: 'ERP同步日志',
    fields: [
      text('name', '标题', { required: true }),
      {
        apiName: 'field_status__c',
        type: 'select_one',
        label: '状态',
        options: options(['success', '成功'], ['failed', '失败'], ['pending', '处理中']),
      },
      longText('field_message__c', '消息'),
    ],
  },
];

/** Thrown when object declarations do not fit together (a bad custom-object JSON file, a typo). */
export class ObjectSpecError extends Error {}

/** The set of objects one emulator serves, compiled from specs and checked as a whole. */
export class ObjectRegistry {
  readonly #objects = new Map<string, CompiledObject>();
  readonly #specs = new Map<string, ObjectSpec>();

  /**
   * @throws {ObjectSpecError} when a spec is malformed or references an object that does not exist.
   */
  constructor(specs: readonly unknown[]) {
    for (const raw of specs) this.#addSpec(raw);
    this.#compile();
  }

  /**
   * Add (or replace, for custom objects) object declarations at run time.
   * @throws {ObjectSpecError} when the result would be inconsistent; nothing changes then.
   */
  declare(specs: readonly unknown[]): string[] {
    const before = new Map(this.#specs);
    try {
      const names = specs.map((raw) => this.#addSpec(raw));
      this.#compile();
      return names;
    } catch (error) {
      this.#specs.clear();
      for (const [name, spec] of before) this.#specs.set(name, spec);
      this.#compile();
      throw error;
    }
  }

  get(apiName: string): CompiledObject | undefined {
    return this.#objects.get(apiName);
  }

  /**
   * The object, or Fxiaoke's parameter error naming the unknown apiName.
   * @throws {FxiaokeApiError} 15002 when the object does not exist.
   */
  require(apiName: string): CompiledObject {
    const found = this.#objects.get(apiName);
    if (!found) {
      throw invalidParameter(
        `对象 ${apiName} 不存在`,
        `object "${apiName}" does not exist (known: ${[...this.#objects.keys()].join(', ')})`,
      );
    }
    return found;
  }

  list(): CompiledObject[] {
    return [...this.#objects.values()];
  }

  spec(apiName: string): ObjectSpec | undefined {
    return this.#specs.get(apiName);
  }

  #addSpec(raw: unknown): string {
    const parsed = objectSpecSchema.safeParse(raw);
    if (!parsed.success) {
      const name =
        typeof raw === 'object' && raw !== null && 'apiName' in raw ? String(raw.apiName) : '(unnamed)';
      throw new ObjectSpecError(
        `对象定义不合法 / Invalid object declaration ${name}: ${parsed.error.issues
          .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
          .join('; ')}`,
      );
    }
    const spec = parsed.data;
    const existing = this.#specs.get(spec.apiName);
    if (existing && !spec.apiName.endsWith('__c')) {
      throw new ObjectSpecError(
        `预置对象 ${spec.apiName} 已存在 / Preset object ${spec.apiName} is already declared`,
      );
    }
    const seen = new Set<string>();
    for (const field of spec.fields) {
      if (seen.has(field.apiName)) {
        throw new ObjectSpecError(`${spec.apiName}.${field.apiName} 重复定义 / declared twice`);
      }
      seen.add(field.apiName);
    }
    if (!seen.has('name')) {
      throw new ObjectSpecError(
        `${spec.apiName} 缺少 name 字段 / must declare its main field "name" (text or auto_number)`,
      );
    }
    this.#specs.set(spec.apiName, spec);
    return spec.apiName;
  }

  #compile(): void {
    const compiled = new Map<string, CompiledObject>();
    for (const spec of this.#specs.values()) {
      const fields = new Map<string, CompiledField>();
      for (const raw of SYSTEM_FIELDS) {
        const field = fieldSpecSchema.parse(raw);
        fields.set(field.apiName, {
          ...field,
          defineType: 'system',
          readOnly: !WRITABLE_SYSTEM_FIELDS.has(field.apiName),
        });
      }
      for (const field of spec.fields) {
        fields.set(field.apiName, {
          ...field,
          defineType: field.apiName.endsWith('__c') ? 'custom' : 'package',
          readOnly: field.type === 'auto_number' || field.compute !== undefined,
        });
      }
      const masterFields = [...fields.values()].filter((f) => f.type === 'master_detail');
      if (masterFields.length > 1) {
        throw new ObjectSpecError(`${spec.apiName}: 只能有一个主从字段 / at most one master_detail field`);
      }
      compiled.set(spec.apiName, {
        apiName: spec.apiName,
        displayName: spec.displayName,
        defineType: spec.apiName.endsWith('__c') ? 'custom' : 'package',
        fields,
        masterField: masterFields[0],
        detailApiNames: [],
      });
    }
    for (const object of compiled.values()) {
      for (const field of object.fields.values()) {
        if (field.type === 'object_reference' || field.type === 'master_detail') {
          if (!field.target || !compiled.has(field.target)) {
            throw new ObjectSpecError(
              `${object.apiName}.${field.apiName}: 关联对象 ${field.target ?? '(缺失)'} 不存在 / target object ${field.target ?? '(missing)'} is not declared`,
            );
          }
        }
        if ((field.type === 'select_one' || field.type === 'select_many') && !field.options?.length) {
          throw new ObjectSpecError(`${object.apiName}.${field.apiName}: 缺少选项 / options are required`);
        }
        if (field.type === 'auto_number' && !field.autoNumber) {
          field.autoNumber = {
            prefix: '',
            dateFormat: 'yyyyMMdd',
            separator: '-',
            serialDigits: 6,
            reset: 'daily',
          };
        }
      }
      if (object.masterField?.target)
        compiled.get(object.masterField.target)?.detailApiNames.push(object.apiName);
    }
    for (const object of compiled.values()) {
      for (const field of object.fields.values()) {
        const compute = field.compute;
        if (compute?.kind === 'detail_sum') {
          const detail = compiled.get(compute.detail);
          if (!detail || detail.masterField?.target !== object.apiName || !detail.fields.has(compute.field)) {
            throw new ObjectSpecError(
              `${object.apiName}.${field.apiName}: 汇总来源 ${compute.detail}.${compute.field} 不是本对象的从对象字段 / sum source is not a field of one of its detail objects`,
            );
          }
        } else if (compute?.kind === 'line_amount') {
          for (const source of [compute.quantity, compute.price, compute.discount]) {
            if (source !== undefined && !object.fields.has(source)) {
              throw new ObjectSpecError(
                `${object.apiName}.${field.apiName}: 字段 ${source} 不存在 / unknown source`,
              );
            }
          }
        }
      }
    }
    this.#objects.clear();
    for (const [name, object] of compiled) this.#objects.set(name, object);
  }
}

/** Describe output of one field, in Fxiaoke's snake_case describe shape (spec §6). */
export function describeField(field: CompiledField): Record<string, unknown> {
  return {
    api_name: field.apiName,
    type: field.type,
    label: field.label,
    description: field.description ?? '',
    is_required: field.required,
    is_active: true,
    is_unique: field.apiName === '_id',
    is_readonly: field.readOnly,
    define_type: field.defineType,
    ...(field.options ? { options: field.options.map((o) => ({ label: o.label, value: o.value })) } : {}),
    ...(field.target ? { target_api_name: field.target } : {}),
    ...(field.maxLength === undefined ? {} : { max_length: field.maxLength }),
    ...(field.decimalPlaces === undefined ? {} : { decimal_places: field.decimalPlaces }),
    ...(field.type === 'date' ? { date_format: 'yyyy-MM-dd', time_zone: 'GMT+8' } : {}),
    ...(field.type === 'date_time' ? { date_format: 'yyyy-MM-dd HH:mm', time_zone: 'GMT+8' } : {}),
    ...(field.defaultValue === undefined ? {} : { default_value: field.defaultValue }),
  };
}

/** Describe output of one object. */
export function describeObject(object: CompiledObject): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of object.fields.values()) fields[field.apiName] = describeField(field);
  return {
    api_name: object.apiName,
    display_name: object.displayName,
    define_type: object.defineType,
    is_active: true,
    ...(object.masterField?.target ? { master_api_name: object.masterField.target } : {}),
    fields,
  };
}

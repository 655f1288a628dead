/**
 * The forms the emulator serves, described as data (see `metadata.ts`). Field keys follow spec §5 and the
 * issue's field list; View property names follow the public View captures (spec §4.4: `Id`, `Number`,
 * `Name:[{Key,Value}]`, `<Ref>_Id` + `<Ref>` objects, base data keeps the `FModifyDate` property name).
 *
 * Extension fields: a tenant adds its own fields in BOS (e.g. a text field holding the CRM id). The demo
 * metadata declares `F_FXK_CrmId` on BD_Customer and SAL_SaleOrder — "the extension field an implementer
 * adds in BOS"; the sample mapping config uses it as the external key. Add more the same way.
 */
import type { FieldMeta, FormMeta, OperationMeta } from './metadata.ts';

const ORG = 'ORG_Organizations';
const ASSIST = 'BOS_ASSISTANTDATA_DETAIL';

const text = (key: string, label: string, extra: Partial<FieldMeta> = {}): FieldMeta => ({
  key,
  label,
  type: 'text',
  ...extra,
});
const ml = (key: string, label: string, extra: Partial<FieldMeta> = {}): FieldMeta => ({
  key,
  label,
  type: 'multilang',
  ...extra,
});
const dec = (key: string, label: string, extra: Partial<FieldMeta> = {}): FieldMeta => ({
  key,
  label,
  type: 'decimal',
  ...extra,
});
const ref = (key: string, label: string, form: string, extra: Partial<FieldMeta> = {}): FieldMeta => ({
  key,
  label,
  type: 'ref',
  ref: form,
  ...extra,
});
const bool = (key: string, label: string, extra: Partial<FieldMeta> = {}): FieldMeta => ({
  key,
  label,
  type: 'boolean',
  ...extra,
});
const date = (key: string, label: string, extra: Partial<FieldMeta> = {}): FieldMeta => ({
  key,
  label,
  type: 'date',
  ...extra,
});

/** Status fields every form carries (K3: A 创建, B 审核中, C 已审核, D 重新审核, Z 暂存). */
const documentStatus: FieldMeta = {
  key: 'FDocumentStatus',
  label: '数据状态',
  type: 'combo',
  options: ['Z', 'A', 'B', 'C', 'D'],
  system: 'status',
};
const forbidStatus: FieldMeta = {
  key: 'FForbidStatus',
  label: '禁用状态',
  type: 'combo',
  options: ['A', 'B'],
  system: 'forbidStatus',
};
const cancelStatus: FieldMeta = {
  key: 'FCancelStatus',
  label: '作废状态',
  type: 'combo',
  options: ['A', 'B'],
  system: 'cancelStatus',
};
const createDate: FieldMeta = {
  key: 'FCreateDate',
  label: '创建日期',
  type: 'datetime',
  system: 'createDate',
};
/** Base data keeps the `F` in the View property (public capture: `"FModifyDate":"2019-02-13T15:46:44.72"`). */
const baseModifyDate: FieldMeta = {
  key: 'FModifyDate',
  label: '修改日期',
  type: 'datetime',
  system: 'modifyDate',
  view: 'FModifyDate',
};
const billModifyDate: FieldMeta = {
  key: 'FModifyDate',
  label: '修改日期',
  type: 'datetime',
  system: 'modifyDate',
};

const FORBID_OPERATIONS: readonly OperationMeta[] = [
  {
    opNumber: 'Forbid',
    label: '禁用',
    field: 'FForbidStatus',
    from: ['A'],
    to: 'B',
    wrongStateText: '数据已经是禁用状态，不能重复禁用！',
  },
  {
    opNumber: 'Enable',
    label: '反禁用',
    field: 'FForbidStatus',
    from: ['B'],
    to: 'A',
    wrongStateText: '数据不是禁用状态，不能反禁用！',
  },
];

const CANCEL_OPERATIONS: readonly OperationMeta[] = [
  {
    opNumber: 'Cancel',
    label: '作废',
    field: 'FCancelStatus',
    from: ['A'],
    to: 'B',
    wrongStateText: '单据已经作废！',
  },
  {
    opNumber: 'Uncancel',
    label: '反作废',
    field: 'FCancelStatus',
    from: ['B'],
    to: 'A',
    wrongStateText: '单据未作废，不能反作废！',
  },
];

/**
 * A small base-data form (organisation, currency, unit, …): number, multilingual name, status, plus extras.
 * Reference targets only need these to resolve `{"FNumber": …}` and to answer queries such as the SDK's
 * health probe (`BD_Currency` `FCODE` where `FNUMBER='PRE001'` → `[["CNY"]]`).
 */
function simpleBase(
  formId: string,
  name: string,
  pkKey: string,
  tableName: string,
  extra: readonly FieldMeta[] = [],
  more: Partial<FormMeta> = {},
): FormMeta {
  return {
    formId,
    name,
    kind: 'base',
    pkKey,
    numberKey: 'FNumber',
    numberLabel: '编码',
    nameKey: 'FName',
    uniqueRuleName: '编码唯一',
    tableName,
    header: [
      documentStatus,
      forbidStatus,
      ml('FName', '名称', { required: true }),
      text('FNumber', '编码'),
      ...extra,
      createDate,
      baseModifyDate,
    ],
    entities: [],
    operations: FORBID_OPERATIONS,
    ...more,
  };
}

/** Organisation-controlled base data: created in one org, used by it and by the orgs it is allocated to. */
const orgControlled: readonly FieldMeta[] = [
  ref('FCreateOrgId', '创建组织', ORG, { required: true }),
  ref('FUseOrgId', '使用组织', ORG, { default: { kind: 'copy', field: 'FCreateOrgId' } }),
  ml('FDescription', '描述'),
];

export const FORMS: readonly FormMeta[] = [
  simpleBase('ORG_Organizations', '组织机构', 'FORGID', 'T_ORG_ORGANIZATIONS'),
  simpleBase('BD_Currency', '币别', 'FCURRENCYID', 'T_BD_CURRENCY', [text('FCODE', '货币代码')]),
  simpleBase('BD_TaxRate', '税率', 'FID', 'T_BD_TAXRATE', [dec('FTaxRate', '税率%')]),
  simpleBase('BOS_ASSISTANTDATA_DETAIL', '辅助资料', 'FENTRYID', 'T_BAS_ASSISTANTDATAENTRY', [
    text('FTypeName', '辅助资料类别'),
  ]),
  simpleBase('BOS_BillType', '单据类型', 'FBILLTYPEID', 'T_BAS_BILLTYPE', [text('FBillFormID', '单据')]),
  simpleBase('BD_UNIT', '计量单位', 'FUNITID', 'T_BD_UNIT'),
  simpleBase('BD_Saler', '销售员', 'FID', 'V_BD_SALESMAN', [], { aliases: ['V_BD_SALESMAN'] }),
  simpleBase('BD_Buyer', '采购员', 'FID', 'V_BD_BUYER'),
  simpleBase('BD_Department', '部门', 'FDEPTID', 'T_BD_DEPARTMENT'),
  simpleBase('BD_STOCK', '仓库', 'FSTOCKID', 'T_BD_STOCK'),

  {
    formId: 'BD_Customer',
    name: '客户',
    kind: 'base',
    pkKey: 'FCUSTID',
    numberKey: 'FNumber',
    numberLabel: '编码',
    nameKey: 'FName',
    numbering: { prefix: 'CUST', width: 4 },
    uniqueRuleName: '编码唯一',
    tableName: 'T_BD_CUSTOMER',
    createOrgKey: 'FCreateOrgId',
    useOrgKey: 'FUseOrgId',
    header: [
      documentStatus,
      forbidStatus,
      ml('FName', '客户名称', { required: true }),
      text('FNumber', '客户编码'),
      ml('FShortName', '简称'),
      ...orgControlled,
      ref('FCOUNTRY', '国家', ASSIST),
      ref('FCustTypeId', '客户类别', ASSIST),
      ref('FTRADINGCURRID', '结算币别', 'BD_Currency'),
      {
        key: 'FInvoiceType',
        label: '发票类型',
        type: 'combo',
        options: ['1', '2'],
        default: { kind: 'const', value: '1' },
      },
      ref('FTaxType', '税分类', ASSIST),
      ref('FTaxRate', '默认税率', 'BD_TaxRate'),
      { key: 'FPriority', label: '客户优先级', type: 'integer', default: { kind: 'const', value: 1 } },
      bool('FISCREDITCHECK', '启用信用管理'),
      bool('FIsTrade', '是否交易客户', { default: { kind: 'const', value: true } }),
      ml('FADDRESS', '通讯地址'),
      text('FTEL', '联系电话'),
      text('FFAX', '传真'),
      text('FZIP', '邮政编码'),
      text('FWEBSITE', '公司网址'),
      text('FINVOICETITLE', '发票抬头'),
      text('FTAXREGISTERCODE', '纳税登记号'),
      text('FINVOICEBANKNAME', '开户银行'),
      text('FINVOICEBANKACCOUNT', '银行账号'),
      text('FINVOICETEL', '开票联系电话'),
      text('FINVOICEADDRESS', '开票通讯地址'),
      ref('FSELLER', '销售员', 'BD_Saler'),
      ref('FSALDEPTID', '销售部门', 'BD_Department'),
      text('F_FXK_CrmId', 'CRM编号'),
      createDate,
      baseModifyDate,
    ],
    entities: [],
    operations: FORBID_OPERATIONS,
  },

  {
    formId: 'BD_MATERIAL',
    name: '物料',
    kind: 'base',
    pkKey: 'FMATERIALID',
    numberKey: 'FNumber',
    numberLabel: '编码',
    nameKey: 'FName',
    numbering: { prefix: 'WL', width: 4 },
    uniqueRuleName: '编码唯一',
    tableName: 'T_BD_MATERIAL',
    createOrgKey: 'FCreateOrgId',
    useOrgKey: 'FUseOrgId',
    header: [
      documentStatus,
      forbidStatus,
      ml('FName', '名称', { required: true }),
      text('FNumber', '编码'),
      ml('FSpecification', '规格型号'),
      ...orgControlled,
      createDate,
      baseModifyDate,
    ],
    entities: [
      {
        key: 'SubHeadEntity',
        label: '基本',
        kind: 'subhead',
        view: 'MaterialBase',
        fields: [
          {
            key: 'FErpClsID',
            label: '物料属性',
            type: 'combo',
            options: ['1', '2', '3', '4', '5', '6', '7', '9', '10'],
            default: { kind: 'const', value: '1' },
          },
          ref('FBaseUnitId', '基本单位', 'BD_UNIT', {
            required: true,
            default: { kind: 'refNumber', number: 'Pcs' },
          }),
        ],
      },
    ],
    operations: FORBID_OPERATIONS,
  },

  {
    formId: 'BD_Supplier',
    name: '供应商',
    kind: 'base',
    pkKey: 'FSupplierId',
    numberKey: 'FNumber',
    numberLabel: '编码',
    nameKey: 'FName',
    numbering: { prefix: 'VEN', width: 5 },
    uniqueRuleName: '编码唯一',
    tableName: 'T_BD_SUPPLIER',
    createOrgKey: 'FCreateOrgId',
    useOrgKey: 'FUseOrgId',
    header: [
      documentStatus,
      forbidStatus,
      ml('FName', '名称', { required: true }),
      text('FNumber', '编码'),
      ml('FShortName', '简称'),
      ...orgControlled,
      createDate,
      baseModifyDate,
    ],
    entities: [],
    operations: FORBID_OPERATIONS,
  },

  {
    formId: 'SAL_SaleOrder',
    name: '销售订单',
    kind: 'bill',
    pkKey: 'FID',
    numberKey: 'FBillNo',
    numberLabel: '单据编号',
    numbering: { prefix: 'XSDD', width: 6 },
    uniqueRuleName: '编码唯一',
    tableName: 'T_SAL_ORDER',
    contextOrgKey: 'FSaleOrgId',
    header: [
      text('FBillNo', '单据编号'),
      documentStatus,
      cancelStatus,
      ref('FBillTypeID', '单据类型', 'BOS_BillType', { required: true }),
      date('FDate', '日期', { required: true }),
      ref('FSaleOrgId', '销售组织', ORG, { required: true }),
      ref('FCustId', '客户', 'BD_Customer', { required: true }),
      ref('FSaleDeptId', '销售部门', 'BD_Department'),
      ref('FSalerId', '销售员', 'BD_Saler', { required: true }),
      ref('FReceiveId', '收货方', 'BD_Customer', { default: { kind: 'copy', field: 'FCustId' } }),
      ref('FSettleId', '结算方', 'BD_Customer', { default: { kind: 'copy', field: 'FCustId' } }),
      ref('FChargeId', '付款方', 'BD_Customer', { default: { kind: 'copy', field: 'FCustId' } }),
      text('FNote', '备注'),
      text('F_FXK_CrmId', 'CRM编号'),
      createDate,
      billModifyDate,
    ],
    entities: [
      {
        key: 'FSaleOrderFinance',
        label: '财务信息',
        kind: 'subhead',
        view: 'SaleOrderFinance',
        fields: [
          ref('FSettleCurrId', '结算币别', 'BD_Currency', { required: true }),
          dec('FExchangeRate', '汇率', { default: { kind: 'const', value: 1 } }),
          bool('FIsIncludedTax', '是否含税', { default: { kind: 'const', value: true } }),
          dec('FBillAllAmount', '价税合计', { computed: true }),
        ],
      },
      {
        key: 'FSaleOrderEntry',
        label: '订单明细',
        kind: 'entry',
        view: 'SaleOrderEntry',
        minRows: 1,
        fields: [
          ref('FMaterialId', '物料编码', 'BD_MATERIAL', { required: true }),
          ref('FUnitID', '销售单位', 'BD_UNIT', {
            required: true,
            default: { kind: 'viaRef', refField: 'FMaterialId', field: 'FBaseUnitId' },
          }),
          ref('FPriceUnitId', '计价单位', 'BD_UNIT', { default: { kind: 'copy', field: 'FUnitID' } }),
          dec('FQty', '销售数量'),
          dec('FPrice', '单价'),
          dec('FTaxPrice', '含税单价'),
          dec('FEntryTaxRate', '税率%'),
          dec('FAllAmount', '价税合计', { computed: true }),
          date('FDeliveryDate', '要货日期', { required: true }),
          ref('FSettleOrgIds', '结算组织', ORG, {
            required: true,
            default: { kind: 'header', field: 'FSaleOrgId' },
          }),
          ref('FStockOrgId', '库存组织', ORG, { default: { kind: 'header', field: 'FSaleOrgId' } }),
          {
            key: 'FReserveType',
            label: '预留类型',
            type: 'combo',
            options: ['1', '3'],
            default: { kind: 'const', value: '1' },
          },
          text('FEntryNote', '备注'),
          bool('FIsFree', '是否赠品'),
        ],
      },
    ],
    compute: [
      {
        kind: 'taxPrice',
        entity: 'FSaleOrderEntry',
        price: 'FPrice',
        taxPrice: 'FTaxPrice',
        rate: 'FEntryTaxRate',
      },
      {
        kind: 'product',
        entity: 'FSaleOrderEntry',
        target: 'FAllAmount',
        factors: ['FQty', 'FTaxPrice'],
        decimals: 2,
      },
      { kind: 'sum', target: 'FBillAllAmount', entity: 'FSaleOrderEntry', field: 'FAllAmount', decimals: 2 },
    ],
    validations: [
      {
        kind: 'nonZeroUnlessFlag',
        entity: 'FSaleOrderEntry',
        fields: ['FPrice', 'FTaxPrice'],
        flag: 'FIsFree',
        // Real text (public GitHub file #69771000816, spec §5).
        message: '非赠品单价不能为0',
        fieldName: 'FTaxPrice',
      },
    ],
    operations: CANCEL_OPERATIONS,
  },

  {
    formId: 'SAL_DELIVERYNOTICE',
    name: '发货通知单',
    kind: 'bill',
    pkKey: 'FID',
    numberKey: 'FBillNo',
    numberLabel: '单据编号',
    numbering: { prefix: 'FHTZD', width: 6 },
    uniqueRuleName: '编码唯一',
    tableName: 'T_SAL_DELIVERYNOTICE',
    contextOrgKey: 'FSaleOrgId',
    header: [
      text('FBillNo', '单据编号'),
      documentStatus,
      ref('FBillTypeID', '单据类型', 'BOS_BillType', {
        required: true,
        default: { kind: 'refNumber', number: 'FHTZD01_SYS' },
      }),
      date('FDate', '日期', { required: true, default: { kind: 'today' } }),
      ref('FSaleOrgId', '销售组织', ORG, { required: true }),
      ref('FCustomerID', '客户', 'BD_Customer', { required: true }),
      ref('FDeliveryOrgID', '发货组织', ORG, { default: { kind: 'copy', field: 'FSaleOrgId' } }),
      ref('FSalesManID', '销售员', 'BD_Saler'),
      createDate,
      billModifyDate,
    ],
    entities: [
      {
        key: 'FEntity',
        label: '明细信息',
        kind: 'entry',
        view: 'SAL_DELIVERYNOTICEENTRY',
        minRows: 1,
        fields: [
          ref('FMaterialID', '物料编码', 'BD_MATERIAL', { required: true }),
          ref('FUnitID', '销售单位', 'BD_UNIT', {
            required: true,
            default: { kind: 'viaRef', refField: 'FMaterialID', field: 'FBaseUnitId' },
          }),
          dec('FQty', '销售数量'),
          date('FDeliveryDate', '要货日期', { default: { kind: 'header', field: 'FDate' } }),
          text('FSrcBillNo', '源单编号'),
          text('FSrcType', '源单类型'),
          text('FOrderNo', '订单单号'),
        ],
      },
    ],
  },

  {
    formId: 'SAL_OUTSTOCK',
    name: '销售出库单',
    kind: 'bill',
    pkKey: 'FID',
    numberKey: 'FBillNo',
    numberLabel: '单据编号',
    numbering: { prefix: 'XSCKD', width: 6 },
    uniqueRuleName: '编码唯一',
    tableName: 'T_SAL_OUTSTOCK',
    contextOrgKey: 'FSaleOrgId',
    header: [
      text('FBillNo', '单据编号'),
      documentStatus,
      ref('FBillTypeID', '单据类型', 'BOS_BillType', {
        required: true,
        default: { kind: 'refNumber', number: 'XSCKD01_SYS' },
      }),
      date('FDate', '日期', { required: true, default: { kind: 'today' } }),
      ref('FSaleOrgId', '销售组织', ORG, { required: true }),
      ref('FCustomerID', '客户', 'BD_Customer', { required: true }),
      ref('FStockOrgId', '发货组织', ORG, { default: { kind: 'copy', field: 'FSaleOrgId' } }),
      createDate,
      billModifyDate,
    ],
    entities: [
      {
        key: 'FEntity',
        label: '明细信息',
        kind: 'entry',
        view: 'SAL_OUTSTOCKENTRY',
        minRows: 1,
        fields: [
          ref('FMaterialID', '物料编码', 'BD_MATERIAL', { required: true }),
          ref('FUnitID', '库存单位', 'BD_UNIT', {
            required: true,
            default: { kind: 'viaRef', refField: 'FMaterialID', field: 'FBaseUnitId' },
          }),
          dec('FRealQty', '实发数量'),
          ref('FStockID', '仓库', 'BD_STOCK'),
          text('FSrcBillNo', '源单编号'),
          text('FSrcType', '源单类型'),
          text('FSoorDerno', '订单单号'),
        ],
      },
    ],
  },

  {
    formId: 'PUR_PurchaseOrder',
    name: '采购订单',
    kind: 'bill',
    pkKey: 'FID',
    numberKey: 'FBillNo',
    numberLabel: '单据编号',
    numbering: { prefix: 'CGDD', width: 6 },
    uniqueRuleName: '编码唯一',
    tableName: 'T_PUR_POORDER',
    contextOrgKey: 'FPurchaseOrgId',
    header: [
      text('FBillNo', '单据编号'),
      documentStatus,
      cancelStatus,
      ref('FBillTypeID', '单据类型', 'BOS_BillType', {
        required: true,
        default: { kind: 'refNumber', number: 'CGDD01_SYS' },
      }),
      date('FDate', '采购日期', { required: true }),
      ref('FSupplierId', '供应商', 'BD_Supplier', { required: true }),
      ref('FPurchaseOrgId', '采购组织', ORG, { required: true }),
      ref('FPurchaserId', '采购员', 'BD_Buyer'),
      createDate,
      billModifyDate,
    ],
    entities: [
      {
        key: 'FPOOrderFinance',
        label: '财务信息',
        kind: 'subhead',
        view: 'POOrderFinance',
        fields: [
          ref('FSettleCurrId', '结算币别', 'BD_Currency', { required: true }),
          dec('FBillAllAmount', '价税合计', { computed: true }),
        ],
      },
      {
        key: 'FPOOrderEntry',
        label: '明细信息',
        kind: 'entry',
        view: 'POOrderEntry',
        minRows: 1,
        fields: [
          ref('FMaterialId', '物料编码', 'BD_MATERIAL', { required: true }),
          ref('FUnitId', '采购单位', 'BD_UNIT', {
            required: true,
            default: { kind: 'viaRef', refField: 'FMaterialId', field: 'FBaseUnitId' },
          }),
          dec('FQty', '采购数量'),
          dec('FPrice', '单价'),
          dec('FTaxPrice', '含税单价'),
          dec('FEntryTaxRate', '税率%'),
          dec('FAllAmount', '价税合计', { computed: true }),
          date('FDeliveryDate', '交货日期', { default: { kind: 'header', field: 'FDate' } }),
        ],
      },
    ],
    compute: [
      {
        kind: 'taxPrice',
        entity: 'FPOOrderEntry',
        price: 'FPrice',
        taxPrice: 'FTaxPrice',
        rate: 'FEntryTaxRate',
      },
      {
        kind: 'product',
        entity: 'FPOOrderEntry',
        target: 'FAllAmount',
        factors: ['FQty', 'FTaxPrice'],
        decimals: 2,
      },
      { kind: 'sum', target: 'FBillAllAmount', entity: 'FPOOrderEntry', field: 'FAllAmount', decimals: 2 },
    ],
    operations: CANCEL_OPERATIONS,
  },

  {
    formId: 'STK_InStock',
    name: '采购入库单',
    kind: 'bill',
    pkKey: 'FID',
    numberKey: 'FBillNo',
    numberLabel: '单据编号',
    numbering: { prefix: 'CGRK', width: 6 },
    uniqueRuleName: '编码唯一',
    tableName: 'T_STK_INSTOCK',
    contextOrgKey: 'FStockOrgId',
    header: [
      text('FBillNo', '单据编号'),
      documentStatus,
      ref('FBillTypeID', '单据类型', 'BOS_BillType', {
        required: true,
        default: { kind: 'refNumber', number: 'RKD01_SYS' },
      }),
      date('FDate', '入库日期', { required: true, default: { kind: 'today' } }),
      ref('FStockOrgId', '收料组织', ORG, { required: true }),
      ref('FSupplierId', '供应商', 'BD_Supplier', { required: true }),
      ref('FPurchaseOrgId', '采购组织', ORG, { default: { kind: 'copy', field: 'FStockOrgId' } }),
      createDate,
      billModifyDate,
    ],
    entities: [
      {
        key: 'FInStockEntry',
        label: '明细信息',
        kind: 'entry',
        view: 'InStockEntry',
        minRows: 1,
        fields: [
          ref('FMaterialId', '物料编码', 'BD_MATERIAL', { required: true }),
          ref('FUnitID', '库存单位', 'BD_UNIT', {
            required: true,
            default: { kind: 'viaRef', refField: 'FMaterialId', field: 'FBaseUnitId' },
          }),
          dec('FRealQty', '实收数量'),
          ref('FStockId', '仓库', 'BD_STOCK'),
          text('FSrcBillNo', '源单编号'),
          text('FSrcBillTypeId', '源单类型'),
          text('FPOOrderNo', '订单单号'),
        ],
      },
    ],
  },
];

/** How Push (下推) turns a source bill into a target bill; one entry per rule id the server knows. */
export interface PushRule {
  ruleId: string;
  sourceFormId: string;
  targetFormId: string;
  sourceEntry: string;
  targetEntry: string;
  /** Source quantity field and the target field it fills; pushed quantity is tracked through links. */
  sourceQty: string;
  targetQty: string;
  /** target header field ← source header (or sub-header) field */
  header: Readonly<Record<string, PushValue>>;
  /** target entry field ← value */
  entry: Readonly<Record<string, PushValue>>;
}

export type PushValue =
  | { from: string }
  | { fromEntry: string }
  | { sourceBillNo: true }
  | { const: string | number | boolean };

export const PUSH_RULES: readonly PushRule[] = [
  {
    ruleId: 'SaleOrder-DeliveryNotice',
    sourceFormId: 'SAL_SaleOrder',
    targetFormId: 'SAL_DELIVERYNOTICE',
    sourceEntry: 'FSaleOrderEntry',
    targetEntry: 'FEntity',
    sourceQty: 'FQty',
    targetQty: 'FQty',
    header: {
      FSaleOrgId: { from: 'FSaleOrgId' },
      FCustomerID: { from: 'FCustId' },
      FSalesManID: { from: 'FSalerId' },
    },
    entry: {
      FMaterialID: { fromEntry: 'FMaterialId' },
      FUnitID: { fromEntry: 'FUnitID' },
      FDeliveryDate: { fromEntry: 'FDeliveryDate' },
      FSrcBillNo: { sourceBillNo: true },
      FSrcType: { const: 'SAL_SaleOrder' },
      FOrderNo: { sourceBillNo: true },
    },
  },
  {
    ruleId: 'DeliveryNotice-OutStock',
    sourceFormId: 'SAL_DELIVERYNOTICE',
    targetFormId: 'SAL_OUTSTOCK',
    sourceEntry: 'FEntity',
    targetEntry: 'FEntity',
    sourceQty: 'FQty',
    targetQty: 'FRealQty',
    header: {
      FSaleOrgId: { from: 'FSaleOrgId' },
      FCustomerID: { from: 'FCustomerID' },
      FStockOrgId: { from: 'FDeliveryOrgID' },
    },
    entry: {
      FMaterialID: { fromEntry: 'FMaterialID' },
      FUnitID: { fromEntry: 'FUnitID' },
      FSrcBillNo: { sourceBillNo: true },
      FSrcType: { const: 'SAL_DELIVERYNOTICE' },
      FSoorDerno: { fromEntry: 'FOrderNo' },
    },
  },
  {
    ruleId: 'PUR_PurchaseOrder-STK_InStock',
    sourceFormId: 'PUR_PurchaseOrder',
    targetFormId: 'STK_InStock',
    sourceEntry: 'FPOOrderEntry',
    targetEntry: 'FInStockEntry',
    sourceQty: 'FQty',
    targetQty: 'FRealQty',
    header: {
      FStockOrgId: { from: 'FPurchaseOrgId' },
      FPurchaseOrgId: { from: 'FPurchaseOrgId' },
      FSupplierId: { from: 'FSupplierId' },
    },
    entry: {
      FMaterialId: { fromEntry: 'FMaterialId' },
      FUnitID: { fromEntry: 'FUnitId' },
      FSrcBillNo: { sourceBillNo: true },
      FSrcBillTypeId: { const: 'PUR_PurchaseOrder' },
      FPOOrderNo: { sourceBillNo: true },
    },
  },
];

/**
 * The demo company the sandbox starts with, as data. It uses Kingdee's standard demo codes so the spec's
 * examples work as written (`PRE001` = CNY, `SL02_SYS`, `KHLB001_SYS`, `XSDD01_SYS`, org `100`, …).
 * Every record goes through the same Save path as a client's, so the seed also proves the metadata.
 * Names and contact data are fictitious.
 */
import type { Engine } from './engine.ts';

interface SeedRecord {
  formId: string;
  model: Record<string, unknown>;
  /** Fixed internal id (organisation 100 is id 1, as on real servers). */
  id?: number;
  /** Document status after seeding; default C (audited). */
  status?: string;
}

const org = (number: string) => ({ FNumber: number });

const base = (
  formId: string,
  number: string,
  name: string,
  extra: Record<string, unknown> = {},
  id?: number,
) => ({
  formId,
  model: { FNumber: number, FName: name, ...extra },
  ...(id === undefined ? {} : { id }),
});

export const DEMO_SEED: readonly SeedRecord[] = [
  base('ORG_Organizations', '100', '总部', {}, 1),
  base('ORG_Organizations', '101', '华东销售公司', {}, 100_001),
  base('ORG_Organizations', '102', '华南销售公司', {}, 100_002),
  base('BD_Currency', 'PRE001', '人民币', { FCODE: 'CNY' }, 1),
  base('BD_Currency', 'PRE002', '美元', { FCODE: 'USD' }, 7),
  base('BD_TaxRate', 'SL02_SYS', '13%增值税', { FTaxRate: 13 }, 234),
  base('BD_TaxRate', 'SL04_SYS', '9%增值税', { FTaxRate: 9 }, 236),
  base('BD_TaxRate', 'SL06_SYS', '零税率', { FTaxRate: 0 }, 238),
  base('BOS_ASSISTANTDATA_DETAIL', 'KHLB001_SYS', '普通客户', { FTypeName: '客户类别' }),
  base('BOS_ASSISTANTDATA_DETAIL', 'SFL02_SYS', '一般纳税人', { FTypeName: '税分类' }),
  base('BOS_ASSISTANTDATA_DETAIL', 'China', '中国', { FTypeName: '国家' }),
  base('BOS_BillType', 'XSDD01_SYS', '标准销售订单', { FBillFormID: 'SAL_SaleOrder' }),
  base('BOS_BillType', 'FHTZD01_SYS', '标准发货通知单', { FBillFormID: 'SAL_DELIVERYNOTICE' }),
  base('BOS_BillType', 'XSCKD01_SYS', '标准销售出库单', { FBillFormID: 'SAL_OUTSTOCK' }),
  base('BOS_BillType', 'CGDD01_SYS', '标准采购订单', { FBillFormID: 'PUR_PurchaseOrder' }),
  base('BOS_BillType', 'RKD01_SYS', '标准采购入库单', { FBillFormID: 'STK_InStock' }),
  base('BD_UNIT', 'Pcs', '个', {}, 10_101),
  base('BD_UNIT', 'Box', '箱', {}, 10_102),
  base('BD_UNIT', 'kg', '千克', {}, 10_095),
  base('BD_Saler', 'SALER001', '张三'),
  base('BD_Saler', 'SALER002', '李四'),
  // Not in the list; the purchase-order seed needs a buyer (采购员) to look realistic.
  base('BD_Buyer', 'BUYER001', '王五'),
  base('BD_Department', 'BM000001', '销售部'),
  base('BD_STOCK', 'CK001', '成品仓'),
  ...(
    [
      ['WL0001', '标准机箱', 'ATX-M1'],
      ['WL0002', '电源模块', 'PSU-500W'],
      ['WL0003', '主板', 'MB-B760'],
      ['WL0004', '散热器', 'CPU-FAN-120'],
      ['WL0005', '螺丝套装', 'M3x6-100'],
    ] as const
  ).map(([number, name, spec]) => ({
    formId: 'BD_MATERIAL',
    model: {
      FMATERIALID: 0,
      FNumber: number,
      FName: name,
      FSpecification: spec,
      FCreateOrgId: org('100'),
      FUseOrgId: org('100'),
      SubHeadEntity: { FErpClsID: '1', FBaseUnitId: { FNumber: 'Pcs' } },
    },
  })),
  ...(
    [
      ['CUST0001', '上海示例科技有限公司', '上海示例', '上海市浦东新区示例路1号', '021-00000001'],
      ['CUST0002', '北京演示贸易有限公司', '北京演示', '北京市海淀区演示街2号', '010-00000002'],
      ['CUST0003', '广州样例电子有限公司', '广州样例', '广州市天河区样例大道3号', '020-00000003'],
    ] as const
  ).map(([number, name, short, address, tel]) => ({
    formId: 'BD_Customer',
    model: {
      FCUSTID: 0,
      FNumber: number,
      FName: name,
      FShortName: short,
      FCreateOrgId: org('100'),
      FUseOrgId: org('100'),
      FCOUNTRY: { FNumber: 'China' },
      FCustTypeId: { FNumber: 'KHLB001_SYS' },
      FTRADINGCURRID: { FNumber: 'PRE001' },
      FInvoiceType: '1',
      FTaxType: { FNumber: 'SFL02_SYS' },
      FTaxRate: { FNumber: 'SL02_SYS' },
      FPriority: 1,
      FISCREDITCHECK: true,
      FIsTrade: true,
      FADDRESS: address,
      FTEL: tel,
      FSELLER: { FNumber: 'SALER001' },
      FSALDEPTID: { FNumber: 'BM000001' },
    },
  })),
  ...(
    [
      ['VEN00001', '苏州示范五金有限公司'],
      ['VEN00002', '深圳演示电源有限公司'],
    ] as const
  ).map(([number, name]) => ({
    formId: 'BD_Supplier',
    model: { FSupplierId: 0, FNumber: number, FName: name, FCreateOrgId: org('100'), FUseOrgId: org('100') },
  })),
  {
    formId: 'PUR_PurchaseOrder',
    model: {
      FID: 0,
      FBillNo: 'CGDD000001',
      FBillTypeID: { FNUMBER: 'CGDD01_SYS' },
      FDate: '2024-01-02',
      FSupplierId: { FNumber: 'VEN00001' },
      FPurchaseOrgId: org('100'),
      FPurchaserId: { FNumber: 'BUYER001' },
      FPOOrderFinance: { FSettleCurrId: { FNumber: 'PRE001' } },
      FPOOrderEntry: [
        {
          FMaterialId: { FNumber: 'WL0001' },
          FUnitId: { FNumber: 'Pcs' },
          FQty: 100,
          FTaxPrice: 56.5,
          FEntryTaxRate: 13,
          FDeliveryDate: '2024-01-10',
        },
        {
          FMaterialId: { FNumber: 'WL0002' },
          FUnitId: { FNumber: 'Pcs' },
          FQty: 50,
          FTaxPrice: 90.4,
          FEntryTaxRate: 13,
          FDeliveryDate: '2024-01-10',
        },
      ],
    },
  },
];

/** Seed the demo company (the caller checks the store is empty). */
export function seedDemoCompany(engine: Engine, now: number): void {
  for (const item of DEMO_SEED) {
    engine.seed(
      item.formId,
      item.model,
      { ...(item.id === undefined ? {} : { id: item.id }), status: item.status ?? 'C' },
      now,
    );
  }
}

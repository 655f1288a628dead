/**
 * Demo data for an empty store, so a newcomer sees a realistic CRM on first start: customers with contacts,
 * the five products whose `product_code` equals the ERP emulator's materials `WL0001`–`WL0005`, one sales
 * order with three lines, and one record of the sample custom object. Written through the engine (same
 * validation as the API), without change pushes.
 */
import { ADMIN_EMPLOYEE_ID, SALES_REP_EMPLOYEE_ID } from './directory.ts';
import type { CrmEngine, WriteOptions } from './engine.ts';

const AS_ADMIN: WriteOptions = { actor: { employeeId: ADMIN_EMPLOYEE_ID, bypassPermissions: true } };

export interface SeededIds {
  accounts: string[];
  products: string[];
  salesOrder: string;
}

/** Insert the demo data. Names are fictitious; phone numbers use the 138-0000 test range. */
export function seedDemoData(engine: CrmEngine): SeededIds {
  const accounts = [
    {
      name: '北京华夏精密机械有限公司',
      account_no: 'KH0001',
      account_level: '1',
      account_source: '4',
      tel: '010-62880001',
      email: 'purchase@huaxia-demo.example.com',
      address: '北京市海淀区中关村南大街 5 号',
      country: '中国',
      province: '北京市',
      city: '北京市',
      district: '海淀区',
      uniform_social_credit_code: '91110108MA0000001X',
      field_tax_no__c: '91110108MA0000001X',
      field_bank_name__c: '中国工商银行北京中关村支行',
      field_bank_account__c: '0200000000000000001',
      owner: [SALES_REP_EMPLOYEE_ID],
    },
    {
      name: '上海东方贸易有限公司',
      account_no: 'KH0002',
      account_level: '2',
      account_source: '1',
      tel: '021-58880002',
      address: '上海市浦东新区世纪大道 100 号',
      country: '中国',
      province: '上海市',
      city: '上海市',
      district: '浦东新区',
      owner: [SALES_REP_EMPLOYEE_ID],
    },
    {
      name: '深圳前海智造科技有限公司',
      account_no: 'KH0003',
      account_level: '3',
      account_source: '3',
      tel: '0755-86880003',
      address: '深圳市南山区前海大道 1 号',
      country: '中国',
      province: '广东省',
      city: '深圳市',
      district: '南山区',
      owner: [ADMIN_EMPLOYEE_ID],
    },
  ].map((fields) => engine.create('AccountObj', fields, undefined, AS_ADMIN).dataId);

  const contacts = [
    { name: '王强', account_id: accounts[0], mobile: '13800000101', job_title: '采购经理' },
    { name: '赵敏', account_id: accounts[1], mobile: '13800000102', job_title: '总经理' },
    { name: '陈晨', account_id: accounts[2], mobile: '13800000103', job_title: '财务' },
  ];
  for (const contact of contacts) engine.create('ContactObj', contact, undefined, AS_ADMIN);

  const products = [
    { name: '不锈钢六角螺栓 M8×30', product_code: 'WL0001', unit: '2', price: '35.00' },
    { name: '深沟球轴承 6204', product_code: 'WL0002', unit: '1', price: '12.50' },
    { name: '抗磨液压油 46#', product_code: 'WL0003', unit: '3', price: '18.80' },
    { name: '瓦楞包装纸箱 A3', product_code: 'WL0004', unit: '1', price: '4.20' },
    { name: '伺服电机控制器 1kW', product_code: 'WL0005', unit: '1', price: '1680.00' },
  ].map((fields) => engine.create('ProductObj', fields, undefined, AS_ADMIN).dataId);

  const salesOrder = engine.create(
    'SalesOrderObj',
    {
      account_id: accounts[0],
      remark: '演示订单 / demo order',
      owner: [SALES_REP_EMPLOYEE_ID],
    },
    {
      SalesOrderProductObj: [
        { product_id: products[0], quantity: '10', sales_price: '35.00' },
        { product_id: products[1], quantity: '100', sales_price: '12.00', discount: '95' },
        { product_id: products[4], quantity: '2', sales_price: '1680.00' },
      ],
    },
    AS_ADMIN,
  ).dataId;

  engine.create(
    'object_erp_sync_log__c',
    {
      name: '演示同步日志 / demo sync log',
      field_status__c: 'success',
      field_message__c: '模拟器初始化 / emulator seeded',
    },
    undefined,
    AS_ADMIN,
  );
  return { accounts, products, salesOrder };
}

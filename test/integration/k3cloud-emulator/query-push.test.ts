import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import { firstError, type K3Result, Session, saleOrderModel, startEmulator } from './support.ts';

describe('k3cloud emulator: ExecuteBillQuery, BillQuery and Push', () => {
  let emulator: K3CloudEmulator;
  let session: Session;
  let now = Date.UTC(2024, 0, 15, 0, 0, 0);
  const orders: { id: number; number: string }[] = [];

  before(async () => {
    emulator = await startEmulator({
      clock: () => now,
      maxQueryLimit: 50,
      sessionIdleTimeoutMs: 365 * 86_400_000,
    });
    session = await Session.open(emulator.url);
    const line = (saleOrderModel().FSaleOrderEntry as Record<string, unknown>[])[0] ?? {};
    // Three orders a day apart; the second has two lines; the third belongs to CUST0002 with a quote in its note.
    const specs = [
      { FNote: 'first', FSaleOrderEntry: [line] },
      { FNote: 'second', FSaleOrderEntry: [line, { ...line, FMaterialId: { FNumber: 'WL0003' }, FQty: 2 }] },
      { FNote: "O'Brien", FCustId: { FNumber: 'CUST0002' }, FSaleOrderEntry: [{ ...line, FQty: 1 }] },
    ];
    for (const spec of specs) {
      const saved = (await session.save('SAL_SaleOrder', saleOrderModel(spec))) as K3Result;
      orders.push({ id: saved.Result.Id ?? 0, number: saved.Result.Number ?? '' });
      now += 86_400_000;
    }
  });
  after(() => emulator.close());

  const q = (FieldKeys: string, FilterString = '', extra: object = {}) =>
    session.query({ FormId: 'SAL_SaleOrder', FieldKeys, FilterString, ...extra });

  describe('FilterString', () => {
    it('supports comparisons, like, in, is null, and/or/not, parentheses, quotes, numbers and dates', async () => {
      const cases: [string, string[]][] = [
        ["FNote = 'first'", ['first']],
        ["FNote <> 'first'", ['second', "O'Brien"]],
        ["FNote != 'first' and FNote != 'second'", ["O'Brien"]],
        ["FNote = 'O''Brien'", ["O'Brien"]],
        ["FNote like 's%'", ['second']],
        ["FNote not like '%i%'", ['second']],
        ["FNote in ('first', 'second')", ['first', 'second']],
        ["FNote not in ('first')", ['second', "O'Brien"]],
        [
          "FCustId.FNumber = 'CUST0002' or (FNote = 'first' and not FDocumentStatus = 'C')",
          ['first', "O'Brien"],
        ],
        ["FModifyDate >= '2024-01-16' and FModifyDate < '2024-01-17 00:00:00'", ['second']],
        ["FDate = '2024-01-15'", ['first', 'second', "O'Brien"]],
        ['FBillAllAmount > 1130', ['second']],
        ['FBillAllAmount <= 113', ["O'Brien"]],
        ['FSaleDeptId.FNumber is null', ['first', 'second', "O'Brien"]],
        ['FCustId.FNumber is not null and 1 = 1', ['first', 'second', "O'Brien"]],
        ["fnote = 'FIRST'", ['first']],
      ];
      for (const [filter, expected] of cases) {
        const rows = (await q('FNote', filter, { OrderString: 'FID' })) as [string][];
        assert.deepEqual(
          rows.map((r) => r[0]),
          expected,
          filter,
        );
      }
    });

    it('entry keys return one row per entry row, filters apply per row, dotted keys join base data', async () => {
      const rows = await q(
        'FBillNo,FSaleOrderEntry_FEntryID,FMaterialId.FNumber,FMaterialId.FName,FQty',
        `FID = ${orders[1]?.id}`,
      );
      assert.equal(rows.length, 2);
      assert.deepEqual(
        rows.map((r) => [r[0], r[2], r[3], r[4]]),
        [
          [orders[1]?.number, 'WL0001', '标准机箱', 10],
          [orders[1]?.number, 'WL0003', '主板', 2],
        ],
      );
      assert.equal(typeof rows[0]?.[1], 'number');
      const filtered = await q('FBillNo,FQty', "FMaterialId.FNumber = 'WL0003'");
      assert.deepEqual(filtered, [[orders[1]?.number, 2]]);
      const [[custId, custNumber]] = (await q('FCustId,FCustId.FNumber', `FID = ${orders[0]?.id}`)) as [
        [number, string],
      ];
      assert.equal(typeof custId, 'number', 'a plain reference key returns the internal id');
      assert.equal(custNumber, 'CUST0001');
    });

    it('orders, pages with StartRow/Limit/TopRowCount and caps Limit at the server maximum', async () => {
      const desc = (await q('FNote', '', { OrderString: 'FDate ASC, FID DESC' })) as [string][];
      assert.deepEqual(
        desc.map((r) => r[0]),
        ["O'Brien", 'second', 'first'],
      );
      assert.deepEqual(await q('FNote', '', { OrderString: 'FID', StartRow: 1, Limit: 1 }), [['second']]);
      assert.deepEqual(await q('FNote', '', { OrderString: 'FID', TopRowCount: 2, StartRow: 1, Limit: 10 }), [
        ['second'],
      ]);
      const many = await session.query({ FormId: 'BD_MATERIAL', FieldKeys: 'FNumber', Limit: 100_000 });
      assert.ok(many.length <= 50);
      const all = await session.query({ FormId: 'BOS_BillType', FieldKeys: 'FNumber', Limit: 0 });
      assert.equal(all.length, 5, 'Limit 0 = everything (up to the maximum)');
    });

    it('BillQuery returns objects keyed by the FieldKeys as given', async () => {
      const response = await session.call('BillQuery', {
        data: {
          FormId: 'SAL_SaleOrder',
          FieldKeys: 'FBillNo, FCustId.FNumber',
          FilterString: `FID = ${orders[0]?.id}`,
        },
      });
      assert.deepEqual(response.json(), [{ FBillNo: orders[0]?.number, 'FCustId.FNumber': 'CUST0001' }]);
    });

    it('errors come back wrapped [[…]]: unknown form, unknown field, bad syntax, JSON-array filter', async () => {
      const wrapped = async (data: object) => {
        const body = (await session.call('ExecuteBillQuery', { data })).json() as [[K3Result]];
        assert.ok(Array.isArray(body) && Array.isArray(body[0]));
        return body[0][0];
      };
      assert.equal(firstError(await wrapped({ FormId: 'NOPE', FieldKeys: 'FID' })), '业务对象不存在');
      const unknown = await wrapped({
        FormId: 'SAL_SaleOrder',
        FieldKeys: 'FID',
        FilterString: 'FNoSuch = 1',
      });
      assert.equal(unknown.Result.ResponseStatus.MsgCode, 9);
      for (const filter of ["FNote = 'open", 'FNote = = 1', 'FNote', "(FNote = 'x'"]) {
        const bad = await wrapped({ FormId: 'SAL_SaleOrder', FieldKeys: 'FID', FilterString: filter });
        assert.equal(bad.Result.ResponseStatus.MsgCode, 8, filter);
      }
      const array = await wrapped({
        FormId: 'SAL_SaleOrder',
        FieldKeys: 'FID',
        FilterString: [{ Left: '' }],
      });
      assert.equal(array.Result.ResponseStatus.MsgCode, 8);
    });
  });

  describe('Push', () => {
    const push = (formid: string, data: object) => session.op('Push', formid, data);
    const audit = async (formid: string, number: string) => {
      await session.op('Submit', formid, { Numbers: [number] });
      await session.op('Audit', formid, { Numbers: [number] });
    };

    it('SaleOrder-DeliveryNotice → DeliveryNotice-OutStock carry the numbers through; fully pushed is refused', async () => {
      const order = orders[1];
      assert.ok(order);
      const unaudited = await push('SAL_SaleOrder', {
        Numbers: [order.number],
        RuleId: 'SaleOrder-DeliveryNotice',
      });
      assert.equal(unaudited.Result.ConvertResponseStatus?.IsSuccess, false);
      assert.equal(unaudited.Result.ResponseStatus.IsSuccess, false);
      await audit('SAL_SaleOrder', order.number);
      const pushed = await push('SAL_SaleOrder', {
        Numbers: [order.number],
        RuleId: 'SaleOrder-DeliveryNotice',
        TargetFormId: 'SAL_DELIVERYNOTICE',
      });
      assert.equal(pushed.Result.ResponseStatus.IsSuccess, true, JSON.stringify(pushed));
      assert.deepEqual(Object.keys(pushed.Result), ['ResponseStatus', 'ConvertResponseStatus']);
      const notice = pushed.Result.ResponseStatus.SuccessEntitys[0];
      assert.match(notice?.Number ?? '', /^FHTZD\d{6}$/);
      const noticeRows = await session.query({
        FormId: 'SAL_DELIVERYNOTICE',
        FieldKeys:
          'FDocumentStatus,FCustomerID.FNumber,FSalesManID.FNumber,FMaterialID.FNumber,FQty,FSrcBillNo,FOrderNo,FSrcType,FBillTypeID.FNumber',
        FilterString: `FID = ${notice?.Id}`,
      });
      assert.deepEqual(noticeRows, [
        [
          'A',
          'CUST0001',
          'SALER001',
          'WL0001',
          10,
          order.number,
          order.number,
          'SAL_SaleOrder',
          'FHTZD01_SYS',
        ],
        [
          'A',
          'CUST0001',
          'SALER001',
          'WL0003',
          2,
          order.number,
          order.number,
          'SAL_SaleOrder',
          'FHTZD01_SYS',
        ],
      ]);
      const again = await push('SAL_SaleOrder', {
        Numbers: [order.number],
        RuleId: 'SaleOrder-DeliveryNotice',
      });
      assert.match(firstError(again), /已全部下推/);
      const unaudit = await session.op('UnAudit', 'SAL_SaleOrder', { Numbers: [order.number] });
      assert.match(firstError(unaudit), /下游单据/);

      await audit('SAL_DELIVERYNOTICE', notice?.Number ?? '');
      const out = await push('SAL_DELIVERYNOTICE', {
        Ids: String(notice?.Id),
        RuleId: 'DeliveryNotice-OutStock',
      });
      const outStock = out.Result.ResponseStatus.SuccessEntitys[0];
      assert.match(outStock?.Number ?? '', /^XSCKD\d{6}$/);
      const outRows = await session.query({
        FormId: 'SAL_OUTSTOCK',
        FieldKeys: 'FRealQty,FSrcBillNo,FSoorDerno,FStockOrgId.FNumber',
        FilterString: `FID = ${outStock?.Id}`,
      });
      assert.deepEqual(outRows, [
        [10, notice?.Number, order.number, '100'],
        [2, notice?.Number, order.number, '100'],
      ]);
    });

    it('PUR_PurchaseOrder-STK_InStock works on the seeded CGDD000001; deleting the target frees the quantity', async () => {
      const pushed = await push('PUR_PurchaseOrder', {
        Numbers: ['CGDD000001'],
        RuleId: 'PUR_PurchaseOrder-STK_InStock',
      });
      assert.equal(pushed.Result.ResponseStatus.IsSuccess, true, JSON.stringify(pushed));
      const target = pushed.Result.ResponseStatus.SuccessEntitys[0];
      assert.match(target?.Number ?? '', /^CGRK\d{6}$/);
      const rows = await session.query({
        FormId: 'STK_InStock',
        FieldKeys:
          'FSupplierId.FNumber,FMaterialId.FNumber,FRealQty,FPOOrderNo,FSrcBillNo,FSrcBillTypeId,FInStockEntry_FEntryID',
        FilterString: `FID = ${target?.Id}`,
      });
      assert.deepEqual(
        rows.map((r) => r.slice(0, 6)),
        [
          ['VEN00001', 'WL0001', 100, 'CGDD000001', 'CGDD000001', 'PUR_PurchaseOrder'],
          ['VEN00001', 'WL0002', 50, 'CGDD000001', 'CGDD000001', 'PUR_PurchaseOrder'],
        ],
      );
      assert.match(
        firstError(
          await push('PUR_PurchaseOrder', {
            Numbers: ['CGDD000001'],
            RuleId: 'PUR_PurchaseOrder-STK_InStock',
          }),
        ),
        /已全部下推/,
      );
      // Reduce the first target line, then push again: only the remainder is pushed.
      const firstLine = rows[0]?.[6];
      await session.save(
        'STK_InStock',
        { FID: target?.Id, FInStockEntry: [{ FEntryID: firstLine, FRealQty: 60 }] },
        { IsDeleteEntry: false },
      );
      const rest = await push('PUR_PurchaseOrder', {
        Numbers: ['CGDD000001'],
        RuleId: 'PUR_PurchaseOrder-STK_InStock',
      });
      const restRows = await session.query({
        FormId: 'STK_InStock',
        FieldKeys: 'FMaterialId.FNumber,FRealQty',
        FilterString: `FID = ${rest.Result.ResponseStatus.SuccessEntitys[0]?.Id}`,
      });
      assert.deepEqual(restRows, [['WL0001', 40]]);
      await session.op('Delete', 'STK_InStock', {
        Ids: `${target?.Id},${rest.Result.ResponseStatus.SuccessEntitys[0]?.Id}`,
      });
      const full = await push('PUR_PurchaseOrder', {
        Numbers: ['CGDD000001'],
        RuleId: 'PUR_PurchaseOrder-STK_InStock',
      });
      assert.equal(full.Result.ResponseStatus.IsSuccess, true);
    });

    it('refuses unknown rules, a rule of another form, and a missing RuleId', async () => {
      assert.match(
        firstError(await push('SAL_SaleOrder', { Numbers: [orders[0]?.number], RuleId: 'NoSuchRule' })),
        /NoSuchRule/,
      );
      assert.match(
        firstError(
          await push('SAL_SaleOrder', {
            Numbers: [orders[0]?.number],
            RuleId: 'PUR_PurchaseOrder-STK_InStock',
          }),
        ),
        /PUR_PurchaseOrder-STK_InStock/,
      );
      assert.equal(
        (await push('SAL_SaleOrder', { Numbers: [orders[0]?.number] })).Result.ResponseStatus.MsgCode,
        8,
      );
      const byDefault = await push('SAL_SaleOrder', {
        Numbers: [orders[0]?.number],
        IsEnableDefaultRule: 'true',
        TargetFormId: 'SAL_DELIVERYNOTICE',
      });
      assert.match(firstError(byDefault), /未审核/);
    });
  });
});

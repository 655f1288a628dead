import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import { firstError, type K3Result, Session, saleOrderModel, startEmulator } from './support.ts';

describe('k3cloud emulator: forms and business semantics', () => {
  let emulator: K3CloudEmulator;
  let session: Session;
  let now = Date.UTC(2024, 5, 1, 2, 0, 0); // 2024-06-01 10:00:00 in UTC+8
  before(async () => {
    emulator = await startEmulator({ clock: () => now });
    session = await Session.open(emulator.url);
  });
  after(() => emulator.close());

  const ok = (result: K3Result) => {
    assert.equal(result.Result.ResponseStatus.IsSuccess, true, JSON.stringify(result));
    return result;
  };
  const failed = (result: K3Result, msgCode: number) => {
    assert.equal(result.Result.ResponseStatus.IsSuccess, false, JSON.stringify(result));
    assert.equal(result.Result.ResponseStatus.ErrorCode, 500);
    assert.equal(result.Result.ResponseStatus.MsgCode, msgCode, JSON.stringify(result));
    return result;
  };

  describe('BD_Customer', () => {
    it('auto-numbers CUST0004, keeps the extension field, resolves references, stamps FModifyDate', async () => {
      const saved = ok(
        await session.save('BD_Customer', {
          FCUSTID: 0,
          FName: '新客户有限公司',
          FCreateOrgId: { FNumber: '100' },
          FTRADINGCURRID: { FNumber: 'PRE001' },
          FTaxRate: { FNumber: 'SL02_SYS' },
          F_FXK_CrmId: 'crm-0001',
        }),
      );
      assert.equal(saved.Result.Number, 'CUST0004');
      assert.equal(typeof saved.Result.Id, 'number');
      const view = await session.view('BD_Customer', { Id: saved.Result.Id });
      assert.equal(view.Number, 'CUST0004');
      assert.equal(view.DocumentStatus, 'A');
      assert.equal(view.F_FXK_CrmId, 'crm-0001');
      assert.equal(view.FModifyDate, '2024-06-01T10:00:00');
      assert.deepEqual(view.Name, [{ Key: 2052, Value: '新客户有限公司' }]);
      assert.equal((view.TRADINGCURRID as { Number: string }).Number, 'PRE001');
      assert.equal(view.UseOrgId_Id, 1, 'FUseOrgId defaults to the creating organisation');
      const rows = await session.query({
        FormId: 'BD_Customer',
        FieldKeys: 'FNumber,F_FXK_CrmId,FTRADINGCURRID.FCODE',
        FilterString: "F_FXK_CrmId = 'crm-0001'",
      });
      assert.deepEqual(rows, [['CUST0004', 'crm-0001', 'CNY']]);
    });

    it('reports every missing required field in K3 words', async () => {
      const result = failed(await session.save('BD_Customer', { FCUSTID: 0 }), 11);
      const messages = result.Result.ResponseStatus.Errors.map((e) => [e.FieldName, e.Message]);
      assert.deepEqual(messages, [
        ['FName', '字段[客户名称]是必录字段'],
        ['FCreateOrgId', '字段[创建组织]是必录字段'],
      ]);
    });

    it('refuses an unknown reference with its FieldName, and unknown fields with MsgCode 9', async () => {
      const unknownRef = failed(
        await session.save('BD_Customer', {
          FName: 'x',
          FCreateOrgId: { FNumber: '100' },
          FSELLER: { FNumber: 'NOBODY' },
        }),
        9,
      );
      assert.equal(unknownRef.Result.ResponseStatus.Errors[0]?.FieldName, 'FSELLER');
      assert.match(firstError(unknownRef), /NOBODY/);
      const unknownField = failed(
        await session.save('BD_Customer', { FName: 'x', FCreateOrgId: { FNumber: '100' }, FNoSuchField: 1 }),
        9,
      );
      assert.equal(firstError(unknownField), '元数据中标识为FNoSuchField的字段不存在');
    });

    it('Forbid / Enable through ExcuteOperation (and the ExecuteOperation alias); IsVerifyBaseDataField then refuses it', async () => {
      const forbid = async (method: string, opNumber: string) =>
        (
          await session.call(method, { formid: 'BD_Customer', opNumber, data: { Numbers: ['CUST0002'] } })
        ).json() as K3Result;
      const forbidden = ok(await forbid('ExcuteOperation', 'Forbid'));
      assert.equal(
        forbidden.Result.ResponseStatus.SuccessMessages[0]?.Message,
        '编码为“CUST0002”的客户，禁用成功！',
      );
      failed(await forbid('ExecuteOperation', 'Forbid'), 11);
      const lenient = await session.save(
        'SAL_SaleOrder',
        saleOrderModel({ FCustId: { FNumber: 'CUST0002' } }),
      );
      ok(lenient);
      const strict = failed(
        await session.save('SAL_SaleOrder', saleOrderModel({ FCustId: { FNumber: 'CUST0002' } }), {
          IsVerifyBaseDataField: 'true',
        }),
        9,
      );
      assert.equal(strict.Result.ResponseStatus.Errors[0]?.FieldName, 'FCustId');
      ok(await forbid('ExcuteOperation', 'Enable'));
      ok(
        await session.save('SAL_SaleOrder', saleOrderModel({ FCustId: { FNumber: 'CUST0002' } }), {
          IsVerifyBaseDataField: true,
        }),
      );
    });

    it('Allocate copies base data to other organisations by internal ids; a second allocation is refused', async () => {
      const [[custId]] = (await session.query({
        FormId: 'BD_Customer',
        FieldKeys: 'FCUSTID',
        FilterString: "FNumber='CUST0003'",
      })) as [[number]];
      const [[org101]] = (await session.query({
        FormId: 'ORG_Organizations',
        FieldKeys: 'FORGID',
        FilterString: "FNumber='101'",
      })) as [[number]];
      const allocated = ok(
        await session.op('Allocate', 'BD_Customer', {
          PkIds: String(custId),
          TOrgIds: String(org101),
          IsAutoSubmitAndAudit: true,
        }),
      );
      assert.notEqual(allocated.Result.ResponseStatus.SuccessEntitys[0]?.Id, custId);
      const rows = await session.query({
        FormId: 'BD_Customer',
        FieldKeys: 'FCUSTID,FUseOrgId.FNumber,FDocumentStatus',
        FilterString: "FNumber = 'CUST0003'",
        OrderString: 'FCUSTID',
      });
      assert.deepEqual(
        rows.map((r) => r.slice(1)),
        [
          ['100', 'C'],
          ['101', 'C'],
        ],
      );
      failed(await session.op('Allocate', 'BD_Customer', { PkIds: custId, TOrgIds: `${org101}` }), 11);
      // An order of org 101 resolves CUST0003 to the copy used by 101.
      const order = ok(
        await session.save(
          'SAL_SaleOrder',
          saleOrderModel({ FSaleOrgId: { FNumber: '101' }, FCustId: { FNumber: 'CUST0003' } }),
        ),
      );
      const [[orderCust]] = (await session.query({
        FormId: 'SAL_SaleOrder',
        FieldKeys: 'FCustId',
        FilterString: `FID = ${order.Result.Id}`,
      })) as [[number]];
      assert.equal(orderCust, allocated.Result.ResponseStatus.SuccessEntitys[0]?.Id);
    });
  });

  describe('SAL_SaleOrder', () => {
    it('computes prices and amounts, numbers XSDD…, and accepts an explicit FBillNo', async () => {
      const saved = ok(await session.save('SAL_SaleOrder', saleOrderModel({ FBillNo: 'SO-EXPLICIT-1' })));
      assert.equal(saved.Result.Number, 'SO-EXPLICIT-1');
      const auto = ok(await session.save('SAL_SaleOrder', saleOrderModel()));
      assert.match(auto.Result.Number ?? '', /^XSDD\d{6}$/);
      const view = await session.view('SAL_SaleOrder', { Number: 'SO-EXPLICIT-1' });
      const entry = (view.SaleOrderEntry as Record<string, unknown>[])[0] ?? {};
      assert.equal(entry.Price, 100);
      assert.equal(entry.AllAmount, 1130);
      assert.equal(entry.Seq, 1);
      assert.equal((view.SaleOrderFinance as Record<string, unknown>[])[0]?.BillAllAmount, 1130);
      assert.equal(view.ReceiveId_Id, view.CustId_Id, 'receiver defaults to the customer');
    });

    it('zero price on a non-free line is 非赠品单价不能为0; a free line may be 0', async () => {
      const line = (saleOrderModel().FSaleOrderEntry as Record<string, unknown>[])[0] ?? {};
      const zero = failed(
        await session.save('SAL_SaleOrder', saleOrderModel({ FSaleOrderEntry: [{ ...line, FTaxPrice: 0 }] })),
        11,
      );
      assert.equal(firstError(zero), '非赠品单价不能为0');
      ok(
        await session.save(
          'SAL_SaleOrder',
          saleOrderModel({ FSaleOrderEntry: [{ ...line, FTaxPrice: 0, FIsFree: true }] }),
        ),
      );
    });

    it('requires the spec §5 fields (customer → 字段[客户]是必录字段, entry rows by row)', async () => {
      const line = (saleOrderModel().FSaleOrderEntry as Record<string, unknown>[])[0] ?? {};
      const { FDeliveryDate: _omit, ...withoutDate } = line;
      const result = failed(
        await session.save(
          'SAL_SaleOrder',
          saleOrderModel({ FCustId: null, FSaleOrderEntry: [withoutDate] }),
        ),
        11,
      );
      const messages = result.Result.ResponseStatus.Errors.map((e) => e.Message);
      assert.ok(messages.includes('字段[客户]是必录字段'), messages.join());
      assert.ok(messages.includes('订单明细第1行：字段[要货日期]是必录字段'), messages.join());
    });

    it('updates by id: NeedUpDateFields limits the change, IsDeleteEntry defaults to true, rows by FEntryID', async () => {
      const line = (saleOrderModel().FSaleOrderEntry as Record<string, unknown>[])[0] ?? {};
      const saved = ok(
        await session.save(
          'SAL_SaleOrder',
          saleOrderModel({ FNote: 'original', FSaleOrderEntry: [line, { ...line, FQty: 5 }] }),
        ),
      );
      const id = saved.Result.Id ?? 0;
      const rowIds = async () =>
        (await session.query({
          FormId: 'SAL_SaleOrder',
          FieldKeys: 'FSaleOrderEntry_FEntryID,FQty',
          FilterString: `FID = ${id}`,
        })) as [number, number][];
      const [first, second] = await rowIds();
      assert.ok(first && second);
      now += 60_000;
      ok(
        await session.save(
          'SAL_SaleOrder',
          {
            FID: id,
            FNote: 'changed',
            F_FXK_CrmId: 'ignored',
            FSaleOrderEntry: [{ FEntryID: second[0], FQty: 7 }],
          },
          { NeedUpDateFields: ['FNote', 'FSaleOrderEntry', 'FQty'], IsDeleteEntry: 'false' },
        ),
      );
      assert.deepEqual(await rowIds(), [
        [first[0], 10],
        [second[0], 7],
      ]);
      const [[note, crm, modified]] = (await session.query({
        FormId: 'SAL_SaleOrder',
        FieldKeys: 'FNote,F_FXK_CrmId,FModifyDate',
        FilterString: `FID = ${id}`,
      })) as [[string, string, string]];
      assert.deepEqual([note, crm, modified], ['changed', '', '2024-06-01T10:01:00']);
      // Default IsDeleteEntry=true: the row not mentioned is deleted.
      ok(
        await session.save('SAL_SaleOrder', { FID: id, FSaleOrderEntry: [{ FEntryID: second[0], FQty: 8 }] }),
      );
      assert.deepEqual(await rowIds(), [[second[0], 8]]);
      // An empty entry array leaves the rows alone (community report, see engine).
      ok(await session.save('SAL_SaleOrder', { FID: id, FSaleOrderEntry: [] }));
      assert.equal((await rowIds()).length, 1);
      failed(
        await session.save('SAL_SaleOrder', { FID: id, FSaleOrderEntry: [{ FEntryID: 999_999, FQty: 1 }] }),
        10,
      );
      failed(await session.save('SAL_SaleOrder', { FID: 987_654 }), 10);
    });

    it('status flow A → B → C → D through Submit/Audit/UnAudit with the real texts; audited bills refuse edits and deletes', async () => {
      const saved = ok(await session.save('SAL_SaleOrder', saleOrderModel()));
      const number = saved.Result.Number ?? '';
      const status = async () =>
        (
          (await session.query({
            FormId: 'SAL_SaleOrder',
            FieldKeys: 'FDocumentStatus',
            FilterString: `FBillNo='${number}'`,
          })) as [[string]]
        )[0][0];
      assert.equal(await status(), 'A');
      failed(await session.op('Audit', 'SAL_SaleOrder', { Numbers: [number] }), 11);
      ok(await session.op('Submit', 'SAL_SaleOrder', { Ids: String(saved.Result.Id) }));
      assert.equal(await status(), 'B');
      const audited = ok(await session.op('Audit', 'SAL_SaleOrder', { Numbers: [number] }));
      assert.equal(
        audited.Result.ResponseStatus.SuccessMessages[0]?.Message,
        `单据编号为“${number}”的销售订单，审核成功！`,
      );
      assert.equal(await status(), 'C');
      assert.equal(
        firstError(failed(await session.save('SAL_SaleOrder', { FID: saved.Result.Id, FNote: 'x' }), 11)),
        '单据已审核，不允许修改',
      );
      failed(await session.op('Delete', 'SAL_SaleOrder', { Numbers: [number] }), 11);
      ok(await session.op('UnAudit', 'SAL_SaleOrder', { Numbers: [number] }));
      assert.equal(await status(), 'D');
      ok(await session.save('SAL_SaleOrder', { FID: saved.Result.Id, FNote: 'editable again' }));
      ok(await session.op('Delete', 'SAL_SaleOrder', { Numbers: [number] }));
      assert.deepEqual(
        await session.query({
          FormId: 'SAL_SaleOrder',
          FieldKeys: 'FID',
          FilterString: `FBillNo='${number}'`,
        }),
        [],
      );
    });

    it('several Numbers: the found ones succeed, an error only when none exists', async () => {
      const a = ok(await session.save('SAL_SaleOrder', saleOrderModel()));
      const mixed = ok(await session.op('Submit', 'SAL_SaleOrder', { Numbers: ['NOPE-1', a.Result.Number] }));
      assert.deepEqual(
        mixed.Result.ResponseStatus.SuccessEntitys.map((e) => [e.Number, e.DIndex]),
        [[a.Result.Number, 1]],
      );
      const none = failed(await session.op('Submit', 'SAL_SaleOrder', { Numbers: ['NOPE-1', 'NOPE-2'] }), 10);
      assert.equal(none.Result.ResponseStatus.Errors.length, 2);
    });

    it('IsAutoSubmitAndAudit saves straight to audited and is refused on update', async () => {
      const saved = ok(await session.save('SAL_SaleOrder', saleOrderModel(), { IsAutoSubmitAndAudit: true }));
      const [[status]] = (await session.query({
        FormId: 'SAL_SaleOrder',
        FieldKeys: 'FDocumentStatus',
        FilterString: `FID=${saved.Result.Id}`,
      })) as [[string]];
      assert.equal(status, 'C');
      const draft = ok(await session.save('SAL_SaleOrder', saleOrderModel()));
      failed(
        await session.save(
          'SAL_SaleOrder',
          { FID: draft.Result.Id, FNote: 'x' },
          { IsAutoSubmitAndAudit: 'true' },
        ),
        8,
      );
    });

    it('BatchSave reports failures by DIndex while the others commit; NeedReturnFields echoes fields', async () => {
      const batch = (
        await session.call('BatchSave', {
          formid: 'SAL_SaleOrder',
          data: {
            Model: [saleOrderModel(), saleOrderModel({ FCustId: { FNumber: 'NOBODY' } }), saleOrderModel()],
          },
        })
      ).json() as K3Result;
      assert.equal(batch.Result.ResponseStatus.IsSuccess, false);
      assert.deepEqual(
        batch.Result.ResponseStatus.SuccessEntitys.map((e) => e.DIndex),
        [0, 2],
      );
      assert.deepEqual(
        batch.Result.ResponseStatus.Errors.map((e) => e.DIndex),
        [1],
      );
      const echoed = ok(
        await session.save('SAL_SaleOrder', saleOrderModel(), {
          NeedReturnFields: ['FBillNo', 'FCustId', 'FSaleOrderEntry.FQty'],
        }),
      );
      const data = echoed.Result.NeedReturnData?.[0] as Record<string, unknown>;
      assert.equal(data.FBillNo, echoed.Result.Number);
      assert.deepEqual(data.FCustId, { FNumber: 'CUST0001' });
      assert.equal((data.FSaleOrderEntry as Record<string, unknown>[])[0]?.FQty, 10);
    });

    it('wrong value types are refused in K3 envelope (MsgCode 8), not crashes', async () => {
      const line = (saleOrderModel().FSaleOrderEntry as Record<string, unknown>[])[0] ?? {};
      const result = failed(
        await session.save(
          'SAL_SaleOrder',
          saleOrderModel({ FDate: 'soon', FSaleOrderEntry: [{ ...line, FQty: 'ten' }] }),
        ),
        8,
      );
      assert.deepEqual(
        result.Result.ResponseStatus.Errors.map((e) => e.FieldName),
        ['FDate', 'FQty'],
      );
      failed(await session.save('SAL_SaleOrder', saleOrderModel({ FSaleOrderEntry: { FQty: 1 } })), 8);
      failed(await session.save('SAL_SaleOrder', saleOrderModel({ FCustId: ['CUST0001'] })), 8);
    });
  });

  describe('other forms', () => {
    it('BD_MATERIAL sub-header SubHeadEntity, PUR_PurchaseOrder and STK_InStock save with defaults', async () => {
      const material = ok(
        await session.save('BD_MATERIAL', {
          FMATERIALID: 0,
          FName: '新物料',
          FCreateOrgId: { FNumber: '100' },
          SubHeadEntity: { FBaseUnitId: { FNumber: 'Box' } },
        }),
      );
      assert.equal(material.Result.Number, 'WL0006');
      const view = await session.view('BD_MATERIAL', { Number: 'WL0006' });
      const materialBase = (view.MaterialBase as Record<string, unknown>[])[0] ?? {};
      assert.equal((materialBase.BaseUnitId as { Number: string }).Number, 'Box');
      const po = ok(
        await session.save('PUR_PurchaseOrder', {
          FID: 0,
          FDate: '2024-06-01',
          FSupplierId: { FNumber: 'VEN00002' },
          FPurchaseOrgId: { FNumber: '100' },
          FPOOrderFinance: { FSettleCurrId: { FNumber: 'PRE001' } },
          FPOOrderEntry: [{ FMaterialId: { FNumber: 'WL0006' }, FQty: 3, FPrice: 10, FEntryTaxRate: 13 }],
        }),
      );
      assert.equal(po.Result.Number, 'CGDD000002', 'numbering continues after the seeded CGDD000001');
      const [[unit, taxPrice, billType]] = (await session.query({
        FormId: 'PUR_PurchaseOrder',
        FieldKeys: 'FUnitId.FNumber,FTaxPrice,FBillTypeID.FNumber',
        FilterString: `FBillNo = '${po.Result.Number}'`,
      })) as [[string, number, string]];
      assert.deepEqual([unit, taxPrice, billType], ['Box', 11.3, 'CGDD01_SYS']);
      ok(
        await session.save('STK_InStock', {
          FID: 0,
          FStockOrgId: { FNumber: '100' },
          FSupplierId: { FNumber: 'VEN00001' },
          FInStockEntry: [
            { FMaterialId: { FNumber: 'WL0001' }, FRealQty: 1, FStockId: { FNumber: 'CK001' } },
          ],
        }),
      );
      failed(await session.save('NO_SUCH_FORM', { FID: 0 }), 4);
      assert.equal(firstError(await session.save('NO_SUCH_FORM', {})), '业务对象不存在');
    });

    it('Draft saves without validation and without a number; Save then numbers it', async () => {
      const draft = ok(
        await session.op('Draft', 'SAL_SaleOrder', { Model: { FID: 0, FNote: 'draft only' } }),
      );
      assert.equal(draft.Result.Number, '');
      const saved = ok(await session.save('SAL_SaleOrder', saleOrderModel({ FID: draft.Result.Id })));
      assert.match(saved.Result.Number ?? '', /^XSDD/);
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { K3CloudError } from '../../../lib/k3cloud/errors.ts';
import {
  allocateData,
  auditData,
  batchSaveData,
  DEFAULT_IS_DELETE_ENTRY,
  deleteData,
  executeOperationData,
  pushData,
  queryData,
  rowsToObjects,
  saveData,
  submitData,
  viewData,
} from '../../../lib/k3cloud/operations.ts';
import { formCallBody, htmlSafeJson, K3_WRITE_OPERATIONS, operationUrl } from '../../../lib/k3cloud/wire.ts';

function invalidInput(fn: () => unknown): K3CloudError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof K3CloudError, String(error));
    assert.equal(error.kind, 'invalid-input');
    assert.equal(error.code, 'K3_INVALID_INPUT');
    assert.equal(error.fault, 'caller');
    return error;
  }
  assert.fail('expected an invalid-input error');
}

describe('k3cloud request building', () => {
  describe('URLs', () => {
    it('appends ServicesStub service and .common.kdsvc to the site root', () => {
      assert.equal(
        operationUrl('https://erp.example.com/k3cloud', 'Save').href,
        'https://erp.example.com/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc',
      );
      assert.equal(
        operationUrl('http://127.0.0.1:8090/k3cloud/', 'LoginBySign').pathname,
        '/k3cloud/Kingdee.BOS.WebApi.ServicesStub.AuthService.LoginBySign.common.kdsvc',
      );
    });

    it('keeps Kingdee’s spelling ExcuteOperation and the other namespace of GetDataCenterList', () => {
      assert.match(
        operationUrl('http://h/k3cloud/', 'ExcuteOperation').pathname,
        /DynamicFormService\.ExcuteOperation\.common\.kdsvc$/,
      );
      assert.equal(
        operationUrl('http://h/k3cloud/', 'GetDataCenterList').pathname,
        '/k3cloud/Kingdee.BOS.ServiceFacade.ServicesStub.Account.AccountService.GetDataCenterList.common.kdsvc',
      );
    });

    it('knows which operations write', () => {
      for (const op of [
        'Save',
        'BatchSave',
        'Draft',
        'Submit',
        'Audit',
        'UnAudit',
        'Delete',
        'Push',
        'ExcuteOperation',
        'Allocate',
      ] as const) {
        assert.ok(K3_WRITE_OPERATIONS.has(op), op);
      }
      for (const op of [
        'View',
        'ExecuteBillQuery',
        'BillQuery',
        'GetDataCenterList',
        'LoginBySign',
      ] as const) {
        assert.ok(!K3_WRITE_OPERATIONS.has(op), op);
      }
    });
  });

  describe('bodies', () => {
    const data = { Model: { FName: "A<B & C=D 'x'", FNumber: '客户1' } };

    it('positional: data travels as a JSON string, like the Java SDK, and decodes to the same value', () => {
      const body = formCallBody('positional', [
        ['formid', 'BD_Customer'],
        ['data', data],
      ]);
      const parsed: unknown = JSON.parse(body);
      assert.ok(
        parsed && typeof parsed === 'object' && 'parameters' in parsed && Array.isArray(parsed.parameters),
      );
      assert.equal(parsed.parameters[0], 'BD_Customer');
      assert.equal(typeof parsed.parameters[1], 'string');
      assert.deepEqual(JSON.parse(String(parsed.parameters[1])), data);
    });

    it('named: {formid, data} with data as an object, like the Python SDK', () => {
      const body = formCallBody('named', [
        ['formid', 'BD_Customer'],
        ['data', data],
      ]);
      assert.deepEqual(JSON.parse(body), { formid: 'BD_Customer', data });
    });

    it('writes <, >, &, \' and = as \\u escapes (Gson style) so WAF rules on raw "<" do not fire', () => {
      for (const style of ['positional', 'named'] as const) {
        const body = formCallBody(style, [['data', data]]);
        assert.ok(!/[<>&'=]/.test(body), body);
        assert.ok(body.includes('客户1'), 'non-ASCII stays raw UTF-8');
      }
      assert.equal(htmlSafeJson({ a: '<' }), '{"a":"\\u003c"}');
    });
  });

  describe('Save / Draft / BatchSave', () => {
    it('sends IsDeleteEntry false by default and no other unset flag', () => {
      assert.equal(DEFAULT_IS_DELETE_ENTRY, false);
      const { ctx, data } = saveData('Save', { formId: 'BD_Customer', model: { FCUSTID: 0, FNumber: 'C1' } });
      assert.deepEqual(ctx, { operation: 'Save', formId: 'BD_Customer' });
      assert.deepEqual(data, { IsDeleteEntry: false, Model: { FCUSTID: 0, FNumber: 'C1' } });
    });

    it('maps every option to its K3 name, joining InterationFlags with ";"', () => {
      const { data } = saveData('Draft', {
        formId: 'SAL_SaleOrder',
        model: { FID: 100 },
        needUpdateFields: ['FSaleOrderEntry', 'FQty'],
        needReturnFields: ['FBillNo', 'FSaleOrderEntry.FEntryID'],
        isDeleteEntry: true,
        isVerifyBaseDataField: true,
        isAutoSubmitAndAudit: false,
        interationFlags: ['STK_InvCheckResult', 'SAL_CreditCheck'],
        ignoreInterationFlag: false,
        validateFlag: true,
        numberSearch: true,
        isEntryBatchFill: false,
        isControlPrecision: true,
        validateRepeatJson: true,
        isAutoAdjustField: false,
        subSystemId: 'SAL',
        creator: '100008',
      });
      assert.deepEqual(data, {
        Creator: '100008',
        NeedUpDateFields: ['FSaleOrderEntry', 'FQty'],
        NeedReturnFields: ['FBillNo', 'FSaleOrderEntry.FEntryID'],
        IsDeleteEntry: true,
        SubSystemId: 'SAL',
        IsVerifyBaseDataField: true,
        IsEntryBatchFill: false,
        ValidateFlag: true,
        NumberSearch: true,
        IsAutoAdjustField: false,
        InterationFlags: 'STK_InvCheckResult;SAL_CreditCheck',
        IgnoreInterationFlag: false,
        IsControlPrecision: true,
        ValidateRepeatJson: true,
        IsAutoSubmitAndAudit: false,
        Model: { FID: 100 },
      });
    });

    it('BatchSave sends the Model array and BatchCount', () => {
      const { data } = batchSaveData({
        formId: 'BD_Customer',
        models: [{ FNumber: 'A' }, { FNumber: 'B' }],
        batchCount: 2,
      });
      assert.deepEqual(data, {
        IsDeleteEntry: false,
        BatchCount: 2,
        Model: [{ FNumber: 'A' }, { FNumber: 'B' }],
      });
    });

    it('refuses bad input in the caller’s terms', () => {
      invalidInput(() => saveData('Save', { formId: ' ', model: {} }));
      invalidInput(() =>
        saveData('Save', { formId: 'BD_Customer', model: [] as unknown as Record<string, unknown> }),
      );
      invalidInput(() =>
        saveData('Save', { formId: 'BD_Customer', model: {}, needUpdateFields: ['FName', ''] }),
      );
      invalidInput(() => batchSaveData({ formId: 'BD_Customer', models: [] }));
      invalidInput(() => batchSaveData({ formId: 'BD_Customer', models: [{}], batchCount: 0 }));
      const error = invalidInput(() =>
        batchSaveData({ formId: 'BD_Customer', models: [{}, null as unknown as Record<string, unknown>] }),
      );
      assert.match(error.message, /models\[1\]/);
    });
  });

  describe('bill operations', () => {
    it('Numbers is an array, Ids a comma-separated string (spec §7.1)', () => {
      assert.deepEqual(
        submitData({ formId: 'SAL_SaleOrder', numbers: ['XSDD01', 'XSDD02'], ids: [1, '2'] }).data,
        {
          CreateOrgId: 0,
          Numbers: ['XSDD01', 'XSDD02'],
          Ids: '1,2',
        },
      );
      assert.deepEqual(
        auditData('UnAudit', {
          formId: 'SAL_SaleOrder',
          ids: [7],
          interationFlags: 'STK_InvCheckResult',
          isVerifyProcInst: true,
        }).data,
        {
          CreateOrgId: 0,
          Numbers: [],
          Ids: '7',
          InterationFlags: 'STK_InvCheckResult',
          IsVerifyProcInst: true,
        },
      );
      assert.deepEqual(deleteData({ formId: 'BD_Customer', numbers: ['C1'], networkCtrl: true }).data, {
        CreateOrgId: 0,
        Numbers: ['C1'],
        Ids: '',
        NetworkCtrl: true,
      });
    });

    it('refuses an operation without numbers or ids, and ids with commas', () => {
      invalidInput(() => auditData('Audit', { formId: 'SAL_SaleOrder' }));
      invalidInput(() => submitData({ formId: 'SAL_SaleOrder', numbers: [], ids: [] }));
      invalidInput(() => deleteData({ formId: 'SAL_SaleOrder', ids: ['1,2'] }));
    });

    it('ExcuteOperation carries opNumber and optional PkEntryIds', () => {
      const built = executeOperationData({
        formId: 'PUR_PurchaseOrder',
        opNumber: 'BillClose',
        numbers: ['CGDD01'],
        pkEntryIds: [{ id: 1, entryIds: [2, 3] }],
      });
      assert.equal(built.opNumber, 'BillClose');
      assert.deepEqual(built.data, {
        CreateOrgId: 0,
        Numbers: ['CGDD01'],
        Ids: '',
        PkEntryIds: [{ Id: '1', EntryIds: '2,3' }],
      });
      invalidInput(() => executeOperationData({ formId: 'BD_MATERIAL', opNumber: '', numbers: ['WL1'] }));
    });

    it('View takes the singular Number or Id, exactly one', () => {
      assert.deepEqual(viewData({ formId: 'BD_Customer', number: 'C1' }).data, {
        CreateOrgId: 0,
        Number: 'C1',
        Id: '',
      });
      assert.deepEqual(viewData({ formId: 'BD_Customer', id: 100001, isSortBySeq: true }).data, {
        CreateOrgId: 0,
        Number: '',
        Id: '100001',
        IsSortBySeq: true,
      });
      invalidInput(() => viewData({ formId: 'BD_Customer' }));
      invalidInput(() => viewData({ formId: 'BD_Customer', number: 'C1', id: 1 }));
    });

    it('Push requires a rule (or the default rule with a target form)', () => {
      assert.deepEqual(
        pushData({ formId: 'SAL_SaleOrder', numbers: ['XSDD01'], ruleId: 'SaleOrder-DeliveryNotice' }).data,
        {
          Ids: '',
          Numbers: ['XSDD01'],
          EntryIds: '',
          RuleId: 'SaleOrder-DeliveryNotice',
          TargetBillTypeId: '',
          TargetOrgId: 0,
          TargetFormId: '',
          IsEnableDefaultRule: false,
          IsDraftWhenSaveFail: false,
          CustomParams: {},
        },
      );
      invalidInput(() => pushData({ formId: 'SAL_SaleOrder', numbers: ['XSDD01'] }));
      invalidInput(() =>
        pushData({ formId: 'SAL_SaleOrder', numbers: ['XSDD01'], isEnableDefaultRule: true }),
      );
      invalidInput(() => pushData({ formId: 'SAL_SaleOrder', ruleId: 'SaleOrder-DeliveryNotice' }));
      assert.equal(
        Reflect.get(
          pushData({
            formId: 'SAL_SaleOrder',
            entryIds: [11, 12],
            isEnableDefaultRule: true,
            targetFormId: 'SAL_DELIVERYNOTICE',
          }).data,
          'EntryIds',
        ),
        '11,12',
      );
    });

    it('Allocate sends PkIds and TOrgIds as comma strings', () => {
      assert.deepEqual(
        allocateData({ formId: 'BD_Customer', pkIds: [1001, 1002], targetOrgIds: ['2001'] }).data,
        {
          PkIds: '1001,1002',
          TOrgIds: '2001',
          IsAutoSubmitAndAudit: false,
        },
      );
      invalidInput(() => allocateData({ formId: 'BD_Customer', pkIds: [], targetOrgIds: [1] }));
    });
  });

  describe('queries', () => {
    it('FieldKeys becomes a comma string; defaults follow the SDK template with Limit 2000', () => {
      const { data, limit } = queryData('ExecuteBillQuery', {
        formId: 'BD_Customer',
        fieldKeys: ['FCUSTID', ' FNumber ', 'FName'],
      });
      assert.equal(limit, 2000);
      assert.deepEqual(data, {
        FormId: 'BD_Customer',
        FieldKeys: 'FCUSTID,FNumber,FName',
        FilterString: '',
        OrderString: '',
        TopRowCount: 0,
        StartRow: 0,
        Limit: 2000,
        SubSystemId: '',
      });
    });

    it('accepts the JSON filter array of newer servers as is', () => {
      const filter = [
        {
          Left: '(',
          FieldName: 'FDocumentStatus',
          Compare: 'StatusEqualto',
          Value: 'C',
          Right: ')',
          Logic: 'AND',
        },
      ];
      assert.deepEqual(
        Reflect.get(
          queryData('BillQuery', { formId: 'X', fieldKeys: 'FID', filterString: filter }).data,
          'FilterString',
        ),
        filter,
      );
    });

    it('refuses empty field keys and bad paging numbers', () => {
      invalidInput(() => queryData('ExecuteBillQuery', { formId: 'BD_Customer', fieldKeys: ' , ' }));
      invalidInput(() =>
        queryData('ExecuteBillQuery', { formId: 'BD_Customer', fieldKeys: 'FID', limit: 0 }),
      );
      invalidInput(() =>
        queryData('ExecuteBillQuery', { formId: 'BD_Customer', fieldKeys: 'FID', startRow: -1 }),
      );
    });

    it('rowsToObjects keys rows by field keys', () => {
      assert.deepEqual(rowsToObjects('FID,FNumber', [[1, 'A'], [2]]), [
        { FID: 1, FNumber: 'A' },
        { FID: 2, FNumber: null },
      ]);
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crmToK3RuleSchema, erpToCrmRuleSchema, requireFlow } from '../../../lib/mappings/config.ts';
import { MappingError, type MappingNote, ProblemList } from '../../../lib/mappings/errors.ts';
import {
  applyCrmRule,
  applyCrmRules,
  applyErpRule,
  type RuleContext,
  roundDecimal,
  truncateText,
} from '../../../lib/mappings/field-rules.ts';
import type { K3Model } from '../../../lib/mappings/k3-requests.ts';
import { accountFixture, exampleConfig } from './helpers.ts';

const config = exampleConfig();
const customerFlow = requireFlow(config, 'accountToCustomer');

function context(): RuleContext & { notes: MappingNote[]; problems: ProblemList } {
  return {
    config,
    flowPath: 'flows.accountToCustomer',
    flowDictionaries: customerFlow.dictionaries,
    problems: new ProblemList(),
    notes: [],
  };
}

const rule = (raw: unknown) => crmToK3RuleSchema.parse(raw);

/** The problems collected in `ctx`, as the MappingError they would end the mapping with. */
function problemsIn(ctx: RuleContext): MappingError {
  try {
    ctx.problems.throwIfAny({ apiName: 'AccountObj', id: 'x' });
  } catch (error) {
    assert.ok(error instanceof MappingError);
    return error;
  }
  assert.fail('expected problems');
}

describe('field rules', () => {
  describe('number and text helpers', () => {
    it('rounds half away from zero without binary drift', () => {
      assert.equal(roundDecimal(1.005, 2), 1.01);
      assert.equal(roundDecimal(-1.005, 2), -1.01);
      assert.equal(roundDecimal(2.5, 0), 3);
      assert.equal(roundDecimal(-0.0001, 2), 0);
      assert.equal(roundDecimal(1e-7, 8), 1e-7);
      assert.equal(roundDecimal(123.456789, 4), 123.4568);
    });

    it('truncates by UTF-16 units without splitting a surrogate pair', () => {
      assert.equal(truncateText('华东贸易有限公司', 4), '华东贸易');
      assert.equal(truncateText('ab😀cd', 3), 'ab');
      assert.equal(truncateText('ab😀cd', 4), 'ab😀');
      assert.equal(truncateText('short', 10), 'short');
    });
  });

  describe('CRM → K3', () => {
    const account = accountFixture();

    it('reads text trimmed, with custom __c fields like any other', () => {
      const ctx = context();
      assert.equal(applyCrmRule('FName', rule({ from: 'name' }), account, ctx), '上海华东贸易有限公司');
      assert.equal(
        applyCrmRule('FName', rule({ from: 'name', trim: false }), account, ctx),
        '  上海华东贸易有限公司  ',
      );
      assert.equal(
        applyCrmRule('FTAXREGISTERCODE', rule('field_tax_no__c'), account, ctx),
        '91310115MA1K0000XX',
      );
      assert.equal(applyCrmRule('FFAX', rule('fax'), account, ctx), undefined, "'' is empty");
      assert.equal(applyCrmRule('FDescription', rule('remark'), account, ctx), undefined, 'null is empty');
      assert.equal(ctx.problems.size, 0);
    });

    it('reads the first id of an array-valued owner, then translates it through a shared dictionary', () => {
      const ctx = context();
      assert.deepEqual(
        applyCrmRule(
          'FSELLER',
          rule({ from: 'owner', read: 'id', dictionary: 'salesmen', ref: 'FNumber' }),
          account,
          ctx,
        ),
        { FNumber: 'SALER002' },
      );
    });

    it('reads epoch-ms dates as yyyy-MM-dd in GMT+8', () => {
      const ctx = context();
      // 2026-11-22T16:00:00Z is 2026-11-23 00:00 in China: the CRM date 2026-11-23.
      const record = { ...account, order_time: 1795363200000, late: '1795391999999' };
      assert.equal(
        applyCrmRule('FDate', rule({ from: 'order_time', read: 'date' }), record, ctx),
        '2026-11-23',
      );
      assert.equal(applyCrmRule('FDate', rule({ from: 'late', read: 'date' }), record, ctx), '2026-11-23');
    });

    it('reads string numbers and rounds them', () => {
      const ctx = context();
      const record = { ...account, price: '113.005', empty: '' };
      assert.equal(
        applyCrmRule('FPrice', rule({ from: 'price', read: 'number', decimals: 2 }), record, ctx),
        113.01,
      );
      assert.equal(applyCrmRule('FPrice', rule({ from: 'empty', read: 'number' }), record, ctx), undefined);
    });

    it('reads booleans from true/false values and text', () => {
      const ctx = context();
      const record = { ...account, a: true, b: 'false', c: '1' };
      assert.equal(applyCrmRule('X', rule({ from: 'a', read: 'boolean' }), record, ctx), true);
      assert.equal(applyCrmRule('X', rule({ from: 'b', read: 'boolean' }), record, ctx), false);
      assert.equal(applyCrmRule('X', rule({ from: 'c', read: 'boolean' }), record, ctx), true);
    });

    it('bad data is a business problem naming the field and the value', () => {
      const ctx = context();
      const record = { ...account, price: '12元', when: 'tomorrow', flag: 'maybe' };
      applyCrmRule('FPrice', rule({ from: 'price', read: 'number' }), record, ctx);
      applyCrmRule('FDate', rule({ from: 'when', read: 'date' }), record, ctx);
      applyCrmRule('FIsX', rule({ from: 'flag', read: 'boolean' }), record, ctx);
      const error = problemsIn(ctx);
      assert.equal(error.kind, 'business');
      assert.deepEqual(
        error.problems.map((p) => [p.code, p.field, p.value]),
        [
          ['INVALID_NUMBER', 'price', '12元'],
          ['INVALID_DATE', 'when', 'tomorrow'],
          ['INVALID_BOOLEAN', 'flag', 'maybe'],
        ],
      );
      assert.match(
        error.message,
        /字段 price 的值 "12元" 不是有效的数字 \/ field price has "12元", which is not a valid number/,
      );
    });

    it('uses the rule default, then the dictionary default, before calling a value missing', () => {
      const ctx = context();
      const record = { ...account, account_level: null };
      assert.equal(applyCrmRule('FPriority', rule({ from: 'nothing', default: 2 }), record, ctx), 2);
      assert.deepEqual(
        applyCrmRule(
          'FCustTypeId',
          rule({ from: 'account_level', dictionary: 'customerType', ref: 'FNumber' }),
          record,
          ctx,
        ),
        { FNumber: 'KHLB001_SYS' },
      );
      applyCrmRule('FName', rule({ from: 'nothing', required: true }), record, ctx);
      const error = problemsIn(ctx);
      assert.deepEqual(
        error.problems.map((p) => [p.kind, p.code, p.field]),
        [['business', 'REQUIRED_FIELD_MISSING', 'nothing']],
      );
      assert.match(
        error.message,
        /必填字段 nothing 为空（用于 FName） \/ required field nothing is empty \(needed for FName\)/,
      );
    });

    it('an unlisted option value is a config problem (policy error) or the default with a note (policy default)', () => {
      const ctx = context();
      const record = { ...account, account_level: '4', owner: ['FSUID_0123456789ABCDEF0123456789ABCDEF'] };
      applyCrmRule(
        'FCustTypeId',
        rule({ from: 'account_level', dictionary: 'customerType', ref: 'FNumber' }),
        record,
        ctx,
      );
      const seller = applyCrmRule(
        'FSELLER',
        rule({ from: 'owner', read: 'id', dictionary: 'salesmen', ref: 'FNumber' }),
        record,
        ctx,
      );
      assert.deepEqual(seller, { FNumber: 'SALER001' });
      assert.equal(ctx.notes[0]?.code, 'DICTIONARY_DEFAULT');
      assert.match(
        ctx.notes[0]?.en ?? '',
        /not in dictionaries\.salesmen; FSELLER took the default SALER001/,
      );
      const error = problemsIn(ctx);
      assert.equal(error.kind, 'config');
      assert.equal(error.fault, 'ours');
      assert.equal(error.code, 'MAPPING_UNMAPPED_VALUE');
      assert.deepEqual(error.problems[0]?.value, '4');
      assert.match(
        error.message,
        /field account_level has "4", which dictionary flows\.accountToCustomer\.dictionaries\.customerType does not map \(FCustTypeId\); add it to flows\.accountToCustomer\.dictionaries\.customerType\.values/,
      );
    });

    it('truncates to maxLength with a note', () => {
      const ctx = context();
      const record = { ...account, name: '上海华东贸易有限公司浦东分公司' };
      assert.equal(
        applyCrmRule('FShortName', rule({ from: 'name', maxLength: 6 }), record, ctx),
        '上海华东贸易',
      );
      assert.deepEqual(
        ctx.notes.map((n) => [n.code, n.target]),
        [['TRUNCATED', 'FShortName']],
      );
      assert.match(ctx.notes[0]?.en ?? '', /FShortName was truncated from 15 to 6 characters/);
    });

    it('constants and references with either key spelling', () => {
      const ctx = context();
      assert.deepEqual(applyCrmRule('FCOUNTRY', rule({ const: 'China', ref: 'FNumber' }), account, ctx), {
        FNumber: 'China',
      });
      assert.deepEqual(
        applyCrmRule('FBillTypeID', rule({ const: 'XSDD01_SYS', ref: 'FNUMBER' }), account, ctx),
        {
          FNUMBER: 'XSDD01_SYS',
        },
      );
      assert.equal(applyCrmRule('FISCREDITCHECK', rule({ const: true }), account, ctx), true);
    });

    it('applyCrmRules writes dotted targets into the sub-header and reports empty text and create-only targets', () => {
      const ctx = context();
      const model: K3Model = {};
      const applied = applyCrmRules(
        {
          FName: rule('name'),
          'FT_BD_CUSTOMEREXT.FEMAIL': rule('email'),
          FFAX: rule('fax'),
          FNumber: rule({ from: 'account_no', createOnly: true }),
        },
        account,
        model,
        ctx,
      );
      assert.deepEqual(model, {
        FName: '上海华东贸易有限公司',
        FT_BD_CUSTOMEREXT: { FEMAIL: 'buyer@huadong-trade.example.cn' },
        FNumber: 'KH-2026-0001',
      });
      assert.deepEqual(applied, {
        written: ['FName', 'FT_BD_CUSTOMEREXT.FEMAIL', 'FNumber'],
        createOnly: ['FNumber'],
        emptyText: ['FFAX'],
      });
    });
  });

  describe('ERP → CRM', () => {
    const row = {
      FDate: '2026-11-25T00:00:00',
      FModifyDate: '2026-11-25T09:30:12.347',
      FRealQty: 2.5,
      FNote: '  加急 ',
      FDocumentStatus: 'C',
      FIsFree: false,
    };
    const erpRule = (raw: unknown) => erpToCrmRuleSchema.parse(raw);

    it('dates become epoch ms at 00:00 GMT+8, datetimes use the K3 server offset', () => {
      const ctx = context();
      assert.equal(
        applyErpRule('delivery_date', erpRule({ from: 'FDate', read: 'date' }), row, ctx),
        Date.UTC(2026, 10, 24, 16),
      );
      assert.equal(
        applyErpRule('field_at__c', erpRule({ from: 'FModifyDate', read: 'datetime' }), row, ctx),
        Date.UTC(2026, 10, 25, 1, 30, 12, 347),
      );
    });

    it('numbers become decimal text, as Fxiaoke stores them', () => {
      const ctx = context();
      assert.equal(applyErpRule('n', erpRule({ from: 'FRealQty', read: 'number' }), row, ctx), '2.5');
      assert.equal(
        applyErpRule('n', erpRule({ from: 'FRealQty', read: 'number', decimals: 2 }), row, ctx),
        '2.50',
      );
    });

    it('a value that is not a number is a business problem naming the K3 field', () => {
      const ctx = context();
      assert.equal(applyErpRule('n', erpRule({ from: 'FNote', read: 'number' }), row, ctx), undefined);
      assert.deepEqual(
        problemsIn(ctx).problems.map((p) => [p.kind, p.code, p.field]),
        [['business', 'INVALID_NUMBER', 'FNote']],
      );
    });

    it('text is trimmed; booleans and dictionaries work as in the other direction', () => {
      const ctx = context();
      assert.equal(applyErpRule('remark', erpRule('FNote'), row, ctx), '加急');
      assert.equal(applyErpRule('f', erpRule({ from: 'FIsFree', read: 'boolean' }), row, ctx), false);
      assert.equal(
        applyErpRule(
          'status',
          erpRule({ from: 'FDocumentStatus', dictionary: 'customerType' }),
          { FDocumentStatus: '1' },
          ctx,
        ),
        'KHLB001_SYS',
      );
    });
  });
});

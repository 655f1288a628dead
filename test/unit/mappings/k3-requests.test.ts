import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, InvalidInputError } from '../../../lib/errors.ts';
import {
  buildBillQuery,
  buildOrgIdQuery,
  buildPushData,
  cellId,
  cellNumber,
  cellText,
  formatK3NaiveMs,
  K3RowsError,
  k3All,
  k3Any,
  k3Equals,
  k3FieldKey,
  k3In,
  k3Literal,
  k3ModifiedAfter,
  k3ModifiedSince,
  k3NotIn,
  parseBillQueryRows,
  parseK3NaiveMs,
  parseOrgIds,
} from '../../../lib/mappings/k3-requests.ts';
import { k3Rows } from './helpers.ts';

describe('K3 request builders', () => {
  describe('FilterString escaping', () => {
    it('doubles single quotes inside text literals', () => {
      assert.equal(k3Literal("O'Brien 贸易"), "'O''Brien 贸易'");
      assert.equal(k3Literal("''"), "''''''");
      assert.equal(k3Literal(42), '42');
    });

    it('keeps an injection attempt inside one literal', () => {
      const filter = k3Equals('F_FXK_CrmId', "x' OR '1'='1");
      assert.equal(filter, "F_FXK_CrmId = 'x'' OR ''1''=''1'");
      // Outside the literal only the field, the operator and the quotes remain.
      assert.equal(filter.replace(/'(?:[^']|'')*'/g, '?'), 'F_FXK_CrmId = ?');
    });

    it('refuses NUL characters and non-finite numbers', () => {
      assert.throws(() => k3Literal('a\u0000b'), InvalidInputError);
      assert.throws(() => k3Literal(Number.NaN), InvalidInputError);
    });

    it('checks field keys', () => {
      assert.equal(k3FieldKey('FMaterialId.FNumber'), 'FMaterialId.FNumber');
      assert.throws(() => k3FieldKey('FNumber; DROP'), TypeError);
      assert.throws(() => k3Equals("FNumber='x' OR 1=1 --", 'a'), TypeError);
    });

    it('builds IN lists, NOT IN, AND and OR', () => {
      assert.equal(k3In('FNumber', ['100']), "FNumber = '100'");
      assert.equal(k3In('FNumber', ['100', "1'01"]), "FNumber IN ('100','1''01')");
      assert.throws(() => k3In('FNumber', []), TypeError);
      assert.equal(k3NotIn('FBillNo', []), undefined);
      assert.equal(k3NotIn('FBillNo', ['A']), "FBillNo NOT IN ('A')");
      assert.equal(k3All('a = 1', undefined, ' ', 'b = 2'), '(a = 1) AND (b = 2)');
      assert.equal(k3All('a = 1'), 'a = 1');
      assert.equal(k3Any('a = 1', 'b = 2'), '(a = 1) OR (b = 2)');
    });
  });

  describe('modify-date windows', () => {
    it('subtracts the overlap from the cursor date', () => {
      assert.equal(
        k3ModifiedSince('2026-11-25T09:30:12.347', 300_000),
        "FModifyDate >= '2026-11-25 09:25:12'",
      );
      assert.equal(k3ModifiedSince('2026-01-01', 60_000), "FModifyDate >= '2025-12-31 23:59:00'");
    });

    it('builds an exact keyset after a bill', () => {
      assert.equal(
        k3ModifiedAfter({ modifyDate: '2026-11-25T09:30:12.347', fid: 100101 }),
        "(FModifyDate > '2026-11-25T09:30:12.347') OR ((FModifyDate = '2026-11-25T09:30:12.347') AND (FID > 100101))",
      );
    });

    it('refuses a cursor that is not a K3 datetime', () => {
      assert.throws(() => k3ModifiedSince("2026-11-25' OR 1=1", 0), InvalidInputError);
      assert.throws(() => k3ModifiedAfter({ modifyDate: 'yesterday', fid: 1 }), InvalidInputError);
    });

    it('reads K3 datetimes as naive wall-clock ms and refuses impossible dates', () => {
      assert.equal(parseK3NaiveMs('2026-11-25T09:30:12.347'), Date.UTC(2026, 10, 25, 9, 30, 12, 347));
      assert.equal(parseK3NaiveMs('2026-11-25 09:30'), Date.UTC(2026, 10, 25, 9, 30));
      assert.equal(parseK3NaiveMs('2026-11-25T09:30:12.3470000'), Date.UTC(2026, 10, 25, 9, 30, 12, 347));
      assert.equal(parseK3NaiveMs('2026-02-30'), undefined);
      assert.equal(parseK3NaiveMs('/Date(1700000000000)/'), undefined);
      assert.equal(formatK3NaiveMs(Date.UTC(2026, 0, 2, 3, 4, 5, 999)), '2026-01-02 03:04:05');
    });
  });

  describe('buildBillQuery', () => {
    it('de-duplicates field keys case-insensitively and keeps K3 defaults', () => {
      const query = buildBillQuery('BD_Customer', ['FNumber', 'fnumber', 'FName'], "FNumber = 'A'", {
        limit: 5,
      });
      assert.deepEqual(query, {
        FormId: 'BD_Customer',
        FieldKeys: 'FNumber,FName',
        FilterString: "FNumber = 'A'",
        OrderString: '',
        TopRowCount: 0,
        StartRow: 0,
        Limit: 5,
        SubSystemId: '',
      });
    });

    it('refuses limits K3 would cut', () => {
      assert.throws(() => buildBillQuery('X', ['FID'], '', { limit: 0 }), TypeError);
      assert.throws(() => buildBillQuery('X', ['FID'], '', { limit: 10_001 }), TypeError);
    });
  });

  describe('reading rows', () => {
    it('keys each row by the query field keys', () => {
      const fixture = k3Rows('customerLookup');
      const query = buildBillQuery(fixture.FormId, fixture.FieldKeys.split(','), '');
      const [row] = parseBillQueryRows(query, fixture.rows);
      assert.ok(row);
      assert.equal(cellId(row, 'FCUSTID', query.FormId), 100234);
      assert.equal(cellText(row, 'FNumber'), 'CUST0004');
    });

    it('refuses the error envelope that slipped through as a data row', () => {
      const fixture = k3Rows('errorEnvelope');
      const query = buildBillQuery(fixture.FormId, fixture.FieldKeys.split(','), '');
      assert.throws(
        () => parseBillQueryRows(query, fixture.rows),
        (error: unknown) => {
          assert.ok(error instanceof K3RowsError);
          assert.equal(error.kind, 'internal');
          assert.equal(error.fault, 'theirs');
          return true;
        },
      );
    });

    it('refuses rows of the wrong width and non-numeric numbers', () => {
      const query = buildBillQuery('X', ['FID', 'FQty'], '');
      assert.throws(() => parseBillQueryRows(query, [[1]]), /row 0 has 1 columns, FieldKeys has 2/);
      const [row] = parseBillQueryRows(query, [[1, 'abc']]);
      assert.ok(row);
      assert.throws(() => cellNumber(row, 'FQty', 'X'), K3RowsError);
      const [decimalText] = parseBillQueryRows(query, [['7', '2.50']]);
      assert.ok(decimalText);
      assert.equal(cellNumber(decimalText, 'FQty', 'X'), 2.5);
      assert.equal(cellId(decimalText, 'FID', 'X'), 7);
      const [empty] = parseBillQueryRows(query, [[0, null]]);
      assert.ok(empty);
      assert.equal(cellNumber(empty, 'FQty', 'X'), undefined);
      assert.throws(() => cellId(empty, 'FID', 'X'), K3RowsError);
    });
  });

  describe('organisation ids', () => {
    it('resolves numbers to ids and names every unknown number', () => {
      const query = buildOrgIdQuery(['100', '101', '109']);
      assert.equal(query.FormId, 'ORG_Organizations');
      assert.equal(query.FilterString, "FNumber IN ('100','101','109')");
      assert.deepEqual(
        [
          ...parseOrgIds(
            query,
            [
              [1, '100'],
              [100005, '101'],
              [100006, '102'],
            ],
            ['100', '101'],
          ),
        ],
        [
          ['100', 1],
          ['101', 100005],
          ['102', 100006],
        ],
      );
      assert.throws(
        () => parseOrgIds(query, [[1, '100']], ['100', '109']),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.deepEqual(error.problems.length, 1);
          assert.match(error.problems[0] ?? '', /109/);
          return true;
        },
      );
    });
  });

  describe('buildPushData', () => {
    it('uses the explicit rule, never the default one', () => {
      assert.deepEqual(
        buildPushData({
          numbers: ['XSDD000001'],
          ruleId: 'SaleOrder-DeliveryNotice',
          targetFormId: 'SAL_DELIVERYNOTICE',
          targetBillTypeId: '',
          targetOrgId: 0,
          draftWhenSaveFails: false,
        }),
        {
          Ids: '',
          Numbers: ['XSDD000001'],
          EntryIds: '',
          RuleId: 'SaleOrder-DeliveryNotice',
          TargetBillTypeId: '',
          TargetOrgId: 0,
          TargetFormId: 'SAL_DELIVERYNOTICE',
          IsEnableDefaultRule: false,
          IsDraftWhenSaveFail: false,
          CustomParams: {},
        },
      );
      assert.throws(
        () =>
          buildPushData({
            numbers: [],
            ruleId: 'r',
            targetFormId: 't',
            targetBillTypeId: '',
            targetOrgId: 0,
            draftWhenSaveFails: false,
          }),
        TypeError,
      );
    });
  });
});

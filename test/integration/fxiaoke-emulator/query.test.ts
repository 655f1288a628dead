import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import {
  ADMIN_OPEN_USER_ID,
  dataOf,
  type LegacySession,
  legacySession,
  query,
  rowsOf,
  startTestEmulator,
  testClock,
} from './helpers.ts';

const QUERY = '/cgi/crm/custom/v2/data/query';
const OBJ = 'object_optest__c';
const DAY = 86_400_000;
const D0 = Date.UTC(2026, 0, 1, 16); // 2026-01-02 00:00 GMT+8

/** A custom object declared as data, covering the value kinds the operators treat differently. */
const OPTEST_OBJECT = {
  apiName: OBJ,
  displayName: '查询测试',
  fields: [
    { apiName: 'name', type: 'text', label: '名称', required: true },
    { apiName: 'field_num__c', type: 'number', label: '数值' },
    { apiName: 'field_date__c', type: 'date', label: '日期' },
    {
      apiName: 'field_tags__c',
      type: 'select_many',
      label: '标签',
      options: [
        { value: 'a', label: 'A' },
        { value: 'b', label: 'B' },
        { value: 'c', label: 'C' },
      ],
    },
    { apiName: 'field_flag__c', type: 'true_or_false', label: '标记' },
  ],
};

const ROWS = [
  { name: 'Alpha', field_num__c: '10', field_date__c: D0, field_tags__c: ['a'], field_flag__c: true },
  {
    name: 'Beta',
    field_num__c: 20,
    field_date__c: D0 + DAY,
    field_tags__c: ['a', 'b'],
    field_flag__c: false,
  },
  { name: 'Gamma', field_num__c: '30', field_date__c: D0 + 2 * DAY, field_tags__c: [], field_flag__c: true },
  { name: 'alphabet', field_date__c: D0 + 3 * DAY, field_tags__c: ['c'], field_flag__c: false },
  { name: 'Delta', field_num__c: '20.5', field_tags__c: ['b'] },
];

describe('fxiaoke emulator: query semantics', () => {
  let emulator: FxiaokeEmulator;
  let session: LegacySession;

  before(async () => {
    emulator = await startTestEmulator(testClock(), { seed: false, objects: [OPTEST_OBJECT] });
    session = await legacySession(emulator);
    await emulator.insertRecords(OBJ, ROWS);
  });
  after(() => emulator.close());

  const names = async (filters: unknown[], extra: Record<string, unknown> = {}): Promise<string[]> => {
    const answer = await session.call(QUERY, query(OBJ, { filters, ...extra }));
    return rowsOf(answer)
      .map((row) => String(row.name))
      .sort();
  };
  const f = (field: string, operator: string, values?: unknown[]) => ({
    field_name: field,
    operator,
    ...(values === undefined ? {} : { field_values: values }),
  });

  it('EQ / N (N also matches empty values)', async () => {
    assert.deepEqual(await names([f('name', 'EQ', ['Beta'])]), ['Beta']);
    assert.deepEqual(
      await names([f('field_num__c', 'EQ', ['20'])]),
      ['Beta'],
      'string value on a number field',
    );
    assert.deepEqual(await names([f('field_num__c', 'EQ', [20])]), ['Beta'], 'number value');
    assert.deepEqual(await names([f('name', 'N', ['Beta'])]), ['Alpha', 'Delta', 'Gamma', 'alphabet']);
    assert.deepEqual(await names([f('field_num__c', 'N', ['20'])]), ['Alpha', 'Delta', 'Gamma', 'alphabet']);
  });

  it('GT / GTE / LT / LTE compare numbers numerically, dates as epoch ms', async () => {
    assert.deepEqual(await names([f('field_num__c', 'GT', ['20'])]), ['Delta', 'Gamma']);
    assert.deepEqual(await names([f('field_num__c', 'GTE', ['20'])]), ['Beta', 'Delta', 'Gamma']);
    assert.deepEqual(await names([f('field_num__c', 'LT', ['20'])]), ['Alpha']);
    assert.deepEqual(await names([f('field_num__c', 'LTE', [20])]), ['Alpha', 'Beta']);
    assert.deepEqual(await names([f('field_date__c', 'GT', [String(D0 + DAY)])]), ['Gamma', 'alphabet']);
    assert.deepEqual(
      await names([f('field_num__c', 'GT', ['9'])]).then((n) => n.length),
      4,
      'not lexical: 10 > 9',
    );
  });

  it('LIKE / NLIKE / STARTWITH / ENDWITH on text', async () => {
    assert.deepEqual(await names([f('name', 'LIKE', ['lph'])]), ['Alpha', 'alphabet']);
    assert.deepEqual(await names([f('name', 'NLIKE', ['lph'])]), ['Beta', 'Delta', 'Gamma']);
    assert.deepEqual(await names([f('name', 'STARTWITH', ['Al'])]), ['Alpha']);
    assert.deepEqual(await names([f('name', 'ENDWITH', ['ta'])]), ['Beta', 'Delta']);
  });

  it('IS / ISN test emptiness (no field_values needed)', async () => {
    assert.deepEqual(await names([f('field_num__c', 'IS')]), ['alphabet']);
    assert.deepEqual(await names([f('field_num__c', 'ISN', [])]), ['Alpha', 'Beta', 'Delta', 'Gamma']);
    assert.deepEqual(await names([f('field_tags__c', 'IS')]), ['Gamma'], 'an empty list is empty');
    assert.deepEqual(await names([f('field_date__c', 'IS')]), ['Delta']);
  });

  it('IN / NIN', async () => {
    assert.deepEqual(await names([f('name', 'IN', ['Alpha', 'Gamma', 'Nobody'])]), ['Alpha', 'Gamma']);
    assert.deepEqual(await names([f('name', 'NIN', ['Alpha', 'Gamma'])]), ['Beta', 'Delta', 'alphabet']);
  });

  it('BETWEEN / NBETWEEN are inclusive ranges (empty values are never between)', async () => {
    assert.deepEqual(await names([f('field_num__c', 'BETWEEN', ['10', '20'])]), ['Alpha', 'Beta']);
    assert.deepEqual(await names([f('field_num__c', 'NBETWEEN', [10, 20])]), ['Delta', 'Gamma']);
    assert.deepEqual(
      await names([f('field_date__c', 'BETWEEN', [D0 + DAY, D0 + 2 * DAY])]),
      ['Beta', 'Gamma'],
      'epoch ms numbers, as clients send them',
    );
  });

  it('CONTAINS and EQ on array fields (select_many)', async () => {
    assert.deepEqual(await names([f('field_tags__c', 'CONTAINS', ['a'])]), ['Alpha', 'Beta']);
    assert.deepEqual(await names([f('field_tags__c', 'CONTAINS', ['a', 'b'])]), ['Beta']);
    assert.deepEqual(await names([f('field_tags__c', 'EQ', ['b'])]), ['Beta', 'Delta']);
    assert.deepEqual(await names([f('field_tags__c', 'NIN', ['a'])]), ['Delta', 'Gamma', 'alphabet']);
  });

  it('true_or_false filters coerce "true"/"false"', async () => {
    assert.deepEqual(await names([f('field_flag__c', 'EQ', ['true'])]), ['Alpha', 'Gamma']);
    assert.deepEqual(await names([f('field_flag__c', 'EQ', [false])]), ['Beta', 'alphabet']);
  });

  it('accepts the alternate spellings NE, GE, LE, NOT_IN, NOT_LIKE', async () => {
    assert.deepEqual(await names([f('name', 'NE', ['Beta'])]), await names([f('name', 'N', ['Beta'])]));
    assert.deepEqual(await names([f('field_num__c', 'GE', ['20'])]), ['Beta', 'Delta', 'Gamma']);
    assert.deepEqual(await names([f('field_num__c', 'LE', ['20'])]), ['Alpha', 'Beta']);
    assert.deepEqual(await names([f('name', 'NOT_IN', ['Alpha', 'Gamma'])]), ['Beta', 'Delta', 'alphabet']);
    assert.deepEqual(await names([f('name', 'NOT_LIKE', ['lph'])]), ['Beta', 'Delta', 'Gamma']);
  });

  it('ANDs multiple filters', async () => {
    assert.deepEqual(await names([f('field_num__c', 'GT', ['10']), f('name', 'LIKE', ['e'])]), [
      'Beta',
      'Delta',
    ]);
  });

  it('filters owners by openUserId in the legacy convention', async () => {
    assert.equal((await names([f('owner', 'EQ', [ADMIN_OPEN_USER_ID])])).length, 5);
    assert.equal((await names([f('owner', 'EQ', ['1000'])])).length, 5);
    assert.equal((await names([f('owner', 'EQ', ['1001'])])).length, 0);
  });

  it('orders by several fields (empty values last ascending, first descending) and projects fields', async () => {
    const asc = rowsOf(
      await session.call(
        QUERY,
        query(OBJ, { orders: [{ fieldName: 'field_num__c', isAsc: true }], fieldProjection: ['name'] }),
      ),
    );
    assert.deepEqual(
      asc.map((r) => r.name),
      ['Alpha', 'Beta', 'Delta', 'Gamma', 'alphabet'],
    );
    assert.deepEqual(Object.keys(asc[0] ?? {}).sort(), ['_id', 'name']);
    const desc = rowsOf(
      await session.call(QUERY, query(OBJ, { orders: [{ fieldName: 'field_num__c', isAsc: false }] })),
    );
    assert.deepEqual(
      desc.map((r) => r.name),
      ['alphabet', 'Gamma', 'Delta', 'Beta', 'Alpha'],
    );
    const twoKeys = rowsOf(
      await session.call(
        QUERY,
        query(OBJ, {
          orders: [
            { fieldName: 'field_flag__c', isAsc: false },
            { fieldName: 'name', isAsc: true },
          ],
        }),
      ),
    );
    assert.deepEqual(
      twoKeys.map((r) => r.name),
      ['Delta', 'Alpha', 'Gamma', 'Beta', 'alphabet'],
    );
  });

  it('returns total only when find_explicit_total_num is not false, with offset and limit echoed', async () => {
    const info = { limit: 2, offset: 2, orders: [{ fieldName: 'name', isAsc: true }] };
    const withTotal = dataOf(await session.call(QUERY, query(OBJ, info, { find_explicit_total_num: true })));
    assert.equal(withTotal.total, 5);
    assert.equal(withTotal.offset, 2);
    assert.equal(withTotal.limit, 2);
    assert.equal((withTotal.dataList as unknown[]).length, 2);
    const defaulted = dataOf(await session.call(QUERY, query(OBJ, info)));
    assert.equal(defaulted.total, 5, 'find_explicit_total_num defaults to true (spec §4.1)');
    const without = dataOf(await session.call(QUERY, query(OBJ, info, { find_explicit_total_num: false })));
    assert.equal(without.total, 0);
    assert.equal((without.dataList as unknown[]).length, 2);
  });

  it('enforces limit ≤ 100, offset multiple of limit, offset ≤ 10000 (10013 with Fxiaoke’s text)', async () => {
    const code = async (info: Record<string, unknown>) =>
      (await session.call(QUERY, query(OBJ, info))).errorCode;
    assert.equal(await code({ limit: 101 }), 15002);
    assert.equal(await code({ limit: 0 }), 15002);
    assert.equal(await code({ limit: 20, offset: 30 }), 15002);
    assert.equal(await code({ limit: '10', offset: '20' }), 0, 'numbers as strings are accepted');
    assert.equal(await code({ limit: 100, offset: 10_000 }), 0);
    const tooDeep = await session.call(QUERY, query(OBJ, { limit: 100, offset: 10_100 }));
    assert.equal(tooDeep.errorCode, 10013);
    assert.equal(tooDeep.errorMessage, 'offset out of range 10000');
    assert.equal(tooDeep.errorDescription, 'offset 不能超过10000');
  });

  it('rejects unknown fields, unknown operators and ill-typed values with 15002', async () => {
    const code = async (filters: unknown[]) => (await session.call(QUERY, query(OBJ, { filters }))).errorCode;
    assert.equal(await code([f('no_such_field', 'EQ', ['x'])]), 15002);
    assert.equal(await code([f('name', 'SOUNDSLIKE', ['x'])]), 15002);
    assert.equal(await code([f('field_num__c', 'BETWEEN', ['1'])]), 15002);
    assert.equal(await code([f('field_num__c', 'GT', ['ten'])]), 15002);
    assert.equal(await code([f('name', 'EQ', [])]), 15002);
    const badOrder = await session.call(QUERY, query(OBJ, { orders: [{ fieldName: 'nope', isAsc: true }] }));
    assert.equal(badOrder.errorCode, 15002);
    const noInfo = await session.call(QUERY, { data: { dataObjectApiName: OBJ } });
    assert.equal(noInfo.errorCode, 32000);
  });
});

describe('fxiaoke emulator: deep paging over 10 050 records', () => {
  const TOTAL = 10_050;
  let emulator: FxiaokeEmulator;
  let session: LegacySession;

  before(async () => {
    emulator = await startTestEmulator(testClock(), { seed: false });
    session = await legacySession(emulator);
    const rows = Array.from({ length: TOTAL }, (_, i) => ({
      name: `产品 ${String(i).padStart(5, '0')}`,
      product_code: `P${String(i).padStart(5, '0')}`,
      price: String(i % 997),
    }));
    await emulator.insertRecords('ProductObj', rows);
  });
  after(() => emulator.close());

  it('offset paging stops at 10000; keyset paging on _id GT reaches every record exactly once', async () => {
    const page = (info: Record<string, unknown>) =>
      session.call(
        '/cgi/crm/v2/data/query',
        query('ProductObj', { limit: 100, ...info }, { find_explicit_total_num: false }),
      );
    assert.equal((await page({ offset: 10_000 })).errorCode, 0);
    assert.equal((await page({ offset: 10_100 })).errorCode, 10013);

    const seen: string[] = [];
    let last: string | undefined;
    for (;;) {
      const rows = rowsOf(
        await page({
          offset: 0,
          orders: [{ fieldName: '_id', isAsc: true }],
          fieldProjection: ['_id'],
          filters: last === undefined ? [] : [{ field_name: '_id', operator: 'GT', field_values: [last] }],
        }),
      );
      if (rows.length === 0) break;
      for (const row of rows) seen.push(String(row._id));
      last = seen[seen.length - 1];
    }
    assert.equal(seen.length, TOTAL);
    assert.equal(new Set(seen).size, TOTAL, 'no duplicates');
    assert.deepEqual(seen, [...seen].sort(), 'ascending _id order');
  });
});

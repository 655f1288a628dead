import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../lib/errors.ts';
import { dataPath, FxiaokeClient, isCustomObject } from '../../../lib/fxiaoke/client.ts';
import type { RateLimiter } from '../../../lib/rate-limit.ts';
import {
  FAKE_SECRET,
  ok,
  type SeenRequest,
  scriptedFxiaoke,
  settingsFor,
  tokenString,
  withToken,
} from './scripted-fxiaoke.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function dataOf(request: SeenRequest | undefined): Record<string, unknown> {
  const data = request?.body.data;
  assert.ok(data && typeof data === 'object' && !Array.isArray(data), 'request has a data object');
  return Object.fromEntries(Object.entries(data));
}

describe('FxiaokeClient request building', () => {
  describe('legacy convention (corpAccessToken in the body)', () => {
    it('gets a token with body credentials, then sends corpAccessToken/corpId/currentOpenUserId in every body and no auth headers', async () => {
      const fx = scriptedFxiaoke(withToken('legacy', () => ok({ data: { _id: 'a1' } })));
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        await client.get('AccountObj', 'a1');
        await client.get('AccountObj', 'a2');

        const [token, first, second] = fx.seen;
        assert.equal(token?.path, '/cgi/corpAccessToken/get/V2');
        assert.deepEqual(token?.body, {
          appId: 'FSAID_unit',
          appSecret: FAKE_SECRET,
          permanentCode: 'UNITTEST00000000PERMANENTCODE000',
        });
        assert.equal(fx.tokenCalls().length, 1, 'the token is reused');
        for (const call of [first, second]) {
          assert.equal(call?.path, '/cgi/crm/v2/data/get');
          assert.equal(call?.body.corpAccessToken, tokenString(1));
          assert.equal(call?.body.corpId, 'FSCID_UNIT');
          assert.equal(call?.body.currentOpenUserId, 'FSUID_UNITTEST00000000000000000001');
          assert.equal(call?.headers.authorization, undefined);
          assert.equal(call?.headers['x-fs-ea'], undefined);
          assert.match(call?.headers['content-type'] ?? '', /^application\/json/);
        }
        assert.deepEqual(dataOf(first), { dataObjectApiName: 'AccountObj', objectDataId: 'a1' });
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });

  describe('oauth2 convention (headers + thirdTraceId)', () => {
    it('gets a token with grantType app_secret, then sends Bearer + x-fs-ea + x-fs-userid headers, no body credentials', async () => {
      const fx = scriptedFxiaoke(withToken('oauth2', () => ok({ data: { _id: 'a1' } })));
      const client = new FxiaokeClient(settingsFor('oauth2'), { dispatcher: fx.agent });
      try {
        await client.get('AccountObj', 'a1');
        const [token, call] = fx.seen;
        assert.equal(token?.path, '/oauth2.0/token');
        assert.equal(token?.body.grantType, 'app_secret');
        assert.equal(token?.headers.authorization, undefined, 'the token call itself carries no token');
        assert.equal(call?.headers.authorization, `Bearer ${tokenString(1)}`);
        assert.equal(call?.headers['x-fs-ea'], 'unit01');
        assert.equal(call?.headers['x-fs-userid'], '1000');
        assert.equal(call?.body.corpAccessToken, undefined);
        assert.equal(call?.body.currentOpenUserId, undefined);
        assert.deepEqual(Object.keys(call?.body ?? {}), ['data']);
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('puts a fresh UUIDv4 thirdTraceId on every request, token call included', async () => {
      const fx = scriptedFxiaoke(withToken('oauth2', () => ok({ data: { _id: 'a1' } })));
      const client = new FxiaokeClient(settingsFor('oauth2'), { dispatcher: fx.agent });
      try {
        for (let i = 0; i < 5; i++) await client.get('AccountObj', 'a1');
        const ids = fx.seen.map((r) => r.query.get('thirdTraceId') ?? '');
        assert.equal(ids.length, 6);
        for (const id of ids) assert.match(id, UUID_V4);
        assert.equal(new Set(ids).size, ids.length, 'every thirdTraceId differs');
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });

  describe('paths', () => {
    it('custom objects (…__c) use /cgi/crm/custom/v2/data/, preset objects /cgi/crm/v2/data/', async () => {
      assert.equal(isCustomObject('object_0cpq5__c'), true);
      assert.equal(isCustomObject('AccountObj'), false);
      assert.equal(dataPath('object_0cpq5__c', 'query'), '/cgi/crm/custom/v2/data/query');
      assert.equal(dataPath('SalesOrderObj', 'create'), '/cgi/crm/v2/data/create');

      const fx = scriptedFxiaoke(
        withToken('legacy', (r) => (r.path.endsWith('/create') ? ok({ dataId: 'new1' }) : ok())),
      );
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        await client.create('object_0cpq5__c', { name: 'x' });
        await client.update('object_0cpq5__c', 'id1', { name: 'y' });
        await client.invalid('object_0cpq5__c', 'id1');
        assert.deepEqual(
          fx.dataCalls().map((r) => r.path),
          [
            '/cgi/crm/custom/v2/data/create',
            '/cgi/crm/custom/v2/data/update',
            '/cgi/crm/custom/v2/data/invalid',
          ],
        );
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('a base URL with a path prefix keeps it', async () => {
      const fx = scriptedFxiaoke(withToken('legacy', () => ok({ data: { _id: 'a1' } })));
      const client = new FxiaokeClient(
        settingsFor('legacy', { baseUrl: 'http://fxiaoke.unit.test/proxy/' }),
        {
          dispatcher: fx.agent,
        },
      );
      try {
        await client.get('AccountObj', 'a1');
        assert.deepEqual(
          fx.seen.map((r) => r.path),
          ['/proxy/cgi/corpAccessToken/get/V2', '/proxy/cgi/crm/v2/data/get'],
        );
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });

  describe('query', () => {
    it('builds search_query_info with the mixed wire naming, string values and _id always projected', async () => {
      const fx = scriptedFxiaoke(withToken('legacy', () => ok({ data: { dataList: [], total: 0 } })));
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        await client.query('AccountObj', {
          filters: [
            { field: 'last_modified_time', operator: 'BETWEEN', values: [1656213600000, 1656400000000] },
            { field: 'name', operator: 'LIKE', values: ['北京'] },
            { field: 'account_level', operator: 'IN', values: ['A', 'B'] },
            { field: 'tel', operator: 'IS' },
          ],
          orders: [{ field: 'last_modified_time' }, { field: 'name', ascending: false }],
          fieldProjection: ['name', 'owner'],
          limit: 50,
          offset: 100,
        });
        assert.deepEqual(dataOf(fx.dataCalls()[0]), {
          dataObjectApiName: 'AccountObj',
          find_explicit_total_num: false,
          search_query_info: {
            limit: 50,
            offset: 100,
            filters: [
              {
                field_name: 'last_modified_time',
                operator: 'BETWEEN',
                field_values: ['1656213600000', '1656400000000'],
              },
              { field_name: 'name', operator: 'LIKE', field_values: ['北京'] },
              { field_name: 'account_level', operator: 'IN', field_values: ['A', 'B'] },
              { field_name: 'tel', operator: 'IS', field_values: [] },
            ],
            orders: [
              { fieldName: 'last_modified_time', isAsc: true },
              { fieldName: 'name', isAsc: false },
            ],
            fieldProjection: ['_id', 'name', 'owner'],
          },
        });
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('refuses limit > 100, a bad offset and malformed filters before any call, with a clear error', async () => {
      const fx = scriptedFxiaoke(withToken('legacy', () => ok({ data: { dataList: [] } })));
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        const cases: { options: Parameters<FxiaokeClient['query']>[1]; pattern: RegExp }[] = [
          { options: { limit: 101 }, pattern: /limit must be an integer from 1 to 100.*got 101/ },
          { options: { limit: 0 }, pattern: /limit/ },
          { options: { limit: 20, offset: 30 }, pattern: /multiple of limit/ },
          { options: { limit: 100, offset: 10_100 }, pattern: /offset cannot exceed 10000.*queryPages/ },
          {
            options: { filters: [{ field: 'x', operator: 'BETWEEN', values: [1] as never }] },
            pattern: /wrong number of values/,
          },
          {
            options: { filters: [{ field: 'x', operator: 'LIKE_ANY' as never, values: ['a'] }] },
            pattern: /unknown filter operator/,
          },
          {
            options: { filters: [{ field: 'bad field', operator: 'EQ', values: ['a'] }] },
            pattern: /invalid field apiName/,
          },
          {
            options: { filters: [{ field: 'x', operator: 'IN', values: [] }] },
            pattern: /wrong number of values/,
          },
        ];
        for (const { options, pattern } of cases) {
          await assert.rejects(client.query('AccountObj', options), (error: unknown) => {
            assert.ok(error instanceof InvalidInputError);
            assert.equal(error.code, 'FXIAOKE_QUERY_INVALID');
            assert.match(error.message, pattern);
            return true;
          });
        }
        assert.equal(fx.seen.length, 0, 'no call, not even a token call');
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });

  describe('keyset paging', () => {
    it('sends _id GT <last id> with offset 0 and _id ascending, and stops on a short page', async () => {
      const pages = [[{ _id: 'a1' }, { _id: 'a2' }], [{ _id: 'a3' }]];
      const fx = scriptedFxiaoke(withToken('legacy', () => ok({ data: { dataList: pages.shift() ?? [] } })));
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        const ids: string[] = [];
        for await (const record of client.queryAll('AccountObj', { pageSize: 2 })) ids.push(record._id);
        assert.deepEqual(ids, ['a1', 'a2', 'a3']);
        const infos = fx.dataCalls().map((c) => dataOf(c).search_query_info);
        assert.deepEqual(infos[1], {
          limit: 2,
          offset: 0,
          filters: [{ field_name: '_id', operator: 'GT', field_values: ['a2'] }],
          orders: [{ fieldName: '_id', isAsc: true }],
        });
        assert.equal(infos.length, 2);
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('stops with an error instead of looping when the server ignores the keyset filter', async () => {
      const fx = scriptedFxiaoke(
        withToken('legacy', () => ok({ data: { dataList: [{ _id: 'a1' }, { _id: 'a2' }] } })),
      );
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        await assert.rejects(
          async () => {
            for await (const _record of client.queryAll('AccountObj', { pageSize: 2 })) {
              // drain
            }
          },
          { code: 'FXIAOKE_KEYSET_IGNORED' },
        );
        assert.equal(fx.dataCalls().length, 2);
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });

  describe('writes', () => {
    it('create puts dataObjectApiName inside object_data, passes details and per-call flow flags', async () => {
      const fx = scriptedFxiaoke(withToken('legacy', () => ok({ dataId: 'so1' })));
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        const result = await client.create(
          'SalesOrderObj',
          { account_id: 'acc1', owner: ['1000'] },
          {
            details: { SalesOrderProductObj: [{ product_id: 'p1', quantity: '2' }] },
            triggerWorkFlow: false,
            triggerApprovalFlow: false,
            optionInfo: { isDuplicateSearch: true },
          },
        );
        assert.deepEqual(result, { dataId: 'so1' });
        const call = fx.dataCalls()[0];
        assert.equal(call?.body.triggerWorkFlow, false);
        assert.equal(call?.body.triggerApprovalFlow, false);
        assert.deepEqual(dataOf(call), {
          object_data: { account_id: 'acc1', owner: ['1000'], dataObjectApiName: 'SalesOrderObj' },
          details: { SalesOrderProductObj: [{ product_id: 'p1', quantity: '2' }] },
          optionInfo: { isDuplicateSearch: true },
        });
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('update sends _id, skipDataStatusValidate and client-wide flow defaults that a call can override', async () => {
      const fx = scriptedFxiaoke(withToken('oauth2', () => ok()));
      const client = new FxiaokeClient(settingsFor('oauth2'), {
        dispatcher: fx.agent,
        writeDefaults: { triggerWorkFlow: false },
      });
      try {
        await client.update('AccountObj', 'acc1', { name: '新名字' }, { skipDataStatusValidate: true });
        await client.update('AccountObj', 'acc1', { name: '再改' }, { triggerWorkFlow: true });
        const [first, second] = fx.dataCalls();
        assert.equal(first?.body.triggerWorkFlow, false);
        assert.equal('triggerApprovalFlow' in (first?.body ?? {}), false, 'unset flags are left to Fxiaoke');
        assert.deepEqual(dataOf(first), {
          object_data: { name: '新名字', dataObjectApiName: 'AccountObj', _id: 'acc1' },
          skipDataStatusValidate: true,
        });
        assert.equal(second?.body.triggerWorkFlow, true);
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('invalid sends object_data_id as a single string', async () => {
      const fx = scriptedFxiaoke(withToken('legacy', () => ok()));
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        await client.invalid('AccountObj', 'acc1');
        assert.deepEqual(dataOf(fx.dataCalls()[0]), {
          object_data_id: 'acc1',
          dataObjectApiName: 'AccountObj',
        });
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('refuses bad input in the caller’s terms before calling', async () => {
      const fx = scriptedFxiaoke(withToken('legacy', () => ok()));
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        await assert.rejects(client.get('Account Obj', 'x'), { code: 'FXIAOKE_BAD_API_NAME' });
        await assert.rejects(client.get('AccountObj', ''), { code: 'FXIAOKE_BAD_ID' });
        await assert.rejects(client.update('AccountObj', 'a', { _id: 'b' }), { code: 'FXIAOKE_BAD_FIELDS' });
        await assert.rejects(
          client.create('SalesOrderObj', {}, { details: { SalesOrderProductObj: 'x' as never } }),
          { code: 'FXIAOKE_BAD_FIELDS' },
        );
        assert.equal(fx.seen.length, 0);
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });

  describe('describe', () => {
    it('sends apiName in data (and at the top level in legacy) and returns typed fields', async () => {
      const fx = scriptedFxiaoke(
        withToken('legacy', () =>
          ok({
            data: {
              describe: {
                api_name: 'ProductObj',
                fields: {
                  unit: {
                    api_name: 'unit',
                    type: 'select_many',
                    options: [
                      { label: 'Vehicle', value: '18' },
                      { label: 'Volume', value: 19 },
                    ],
                  },
                },
              },
            },
          }),
        ),
      );
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        const described = await client.describe('ProductObj', { includeDetail: true });
        assert.equal(described.apiName, 'ProductObj');
        assert.deepEqual(
          described.fields.unit?.options?.map((o) => o.value),
          ['18', '19'],
        );
        const call = fx.dataCalls()[0];
        assert.equal(call?.path, '/cgi/crm/v2/object/describe');
        assert.deepEqual(dataOf(call), { apiName: 'ProductObj', includeDetail: true });
        assert.equal(call?.body.apiName, 'ProductObj');
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });

  describe('rate limiting', () => {
    it('acquires bucket fxiaoke:<path> before every data call and fxiaoke:<token path> on its own limiter', async () => {
      const buckets: string[] = [];
      const tokenBuckets: string[] = [];
      const recording = (into: string[]): RateLimiter => ({
        acquire: async (bucket) => {
          into.push(bucket);
        },
      });
      const fx = scriptedFxiaoke(
        withToken('legacy', (r) =>
          r.path.endsWith('/query') ? ok({ data: { dataList: [] } }) : ok({ data: { _id: 'a' } }),
        ),
      );
      const client = new FxiaokeClient(settingsFor('legacy'), {
        dispatcher: fx.agent,
        rateLimiter: recording(buckets),
        tokenRateLimiter: recording(tokenBuckets),
      });
      try {
        await client.get('AccountObj', 'a');
        await client.query('object_x__c');
        await client.get('AccountObj', 'b');
        assert.deepEqual(buckets, [
          'fxiaoke:/cgi/crm/v2/data/get',
          'fxiaoke:/cgi/crm/custom/v2/data/query',
          'fxiaoke:/cgi/crm/v2/data/get',
        ]);
        assert.deepEqual(tokenBuckets, ['fxiaoke:/cgi/corpAccessToken/get/V2']);
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('waits for the limiter before sending: a held budget holds the call', async () => {
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let gated = true;
      const fx = scriptedFxiaoke(withToken('legacy', () => ok({ data: { _id: 'a' } })));
      const client = new FxiaokeClient(settingsFor('legacy'), {
        dispatcher: fx.agent,
        rateLimiter: { acquire: () => (gated ? gate : Promise.resolve()) },
      });
      try {
        const pending = client.get('AccountObj', 'a');
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(fx.dataCalls().length, 0, 'nothing sent while the limiter holds');
        gated = false;
        release();
        await pending;
        assert.equal(fx.dataCalls().length, 1);
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });

  describe('getMany', () => {
    it('re-reads 250 ids (with duplicates) in 3 `_id IN` queries of at most 100 ids', async () => {
      const fx = scriptedFxiaoke(
        withToken('legacy', (r) => {
          const info = dataOf(r).search_query_info;
          const filters = info && typeof info === 'object' && 'filters' in info ? info.filters : [];
          const first = Array.isArray(filters) ? filters[0] : undefined;
          const values: unknown[] =
            first && typeof first === 'object' && 'field_values' in first && Array.isArray(first.field_values)
              ? first.field_values
              : [];
          return ok({
            data: { dataList: values.map((id) => ({ _id: String(id), name: `n-${String(id)}` })) },
          });
        }),
      );
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        const ids = Array.from({ length: 250 }, (_, i) => `id${i}`);
        const found = await client.getMany('AccountObj', [...ids, 'id0', 'id1']);
        assert.equal(found.size, 250);
        assert.equal(found.get('id249')?.name, 'n-id249');
        const calls = fx.dataCalls();
        assert.equal(calls.length, 3);
        const sizes = calls.map((c) => {
          const info = dataOf(c).search_query_info;
          assert.ok(info && typeof info === 'object' && 'filters' in info && Array.isArray(info.filters));
          const [filter] = info.filters;
          assert.equal(filter.operator, 'IN');
          assert.equal(filter.field_name, '_id');
          return filter.field_values.length;
        });
        assert.deepEqual(sizes, [100, 100, 50]);
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });
});

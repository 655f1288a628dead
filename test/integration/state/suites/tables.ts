import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { StateError } from '../../../../lib/state/errors.ts';
import { createStateTables } from '../../../../lib/state/tables.ts';
import { randomTablePrefix } from '../../../support/dynamodb.ts';
import type { StateTestContext } from './harness.ts';

export function tablesSuite(ctx: StateTestContext): void {
  describe('createStateTables', () => {
    it('creates the four tables with their indexes, enables TTL where the engine can, and is idempotent', async () => {
      const prefix = randomTablePrefix('fxk3-local');
      const first = await createStateTables(ctx.dynamo.client, { prefix });
      assert.deepEqual(first.created, ['coordination', 'inbox', 'links', 'syncLog']);
      const links = await ctx.dynamo.client.send(new DescribeTableCommand({ TableName: `${prefix}-links` }));
      assert.deepEqual(links.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort(), [
        'byCrm',
        'byErpId',
        'byErpNumber',
      ]);
      assert.equal(links.Table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST', 'PAY_PER_REQUEST');

      // dynalite has no UpdateTimeToLive (toolchain facts §1); DynamoDB Local and AWS do.
      assert.equal(first.ttlSupported, ctx.engine === 'dynamodb-local');
      if (ctx.engine === 'dynamodb-local') {
        const ttl = await ctx.dynamo.client.send(
          new DescribeTimeToLiveCommand({ TableName: `${prefix}-inbox` }),
        );
        assert.equal(ttl.TimeToLiveDescription?.AttributeName, 'purgeAtSec');
      }

      const again = await createStateTables(ctx.dynamo.client, { prefix });
      assert.deepEqual(again.created, []);
      assert.deepEqual(again.names, first.names);
    });

    it('refuses an existing table whose keys differ from the template', async () => {
      const prefix = randomTablePrefix('stale');
      await ctx.dynamo.client.send(
        new CreateTableCommand({
          TableName: `${prefix}-coordination`,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        }),
      );
      await assert.rejects(createStateTables(ctx.dynamo.client, { prefix }), (error: unknown) => {
        assert.ok(error instanceof StateError);
        assert.equal(error.code, 'STATE_SCHEMA_MISMATCH');
        assert.match(error.message, /coordination/);
        return true;
      });
    });
  });
}

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../lib/errors.ts';
import {
  INBOX_INDEX,
  LINKS_INDEX,
  localTableSpecs,
  PURGE_AT_ATTRIBUTE,
  STATE_TABLE_ROLES,
  STATE_TABLES,
  SYNC_LOG_INDEX,
  stateTableNames,
  stateTableResources,
} from '../../../lib/state/tables.ts';

const templateText = readFileSync(new URL('../../../infra/dynamodb-tables.json', import.meta.url), 'utf8');

describe('infra/dynamodb-tables.json', () => {
  const resources = stateTableResources();

  it('is a CloudFormation Resources map holding exactly the four state tables', () => {
    assert.deepEqual(Object.keys(JSON.parse(templateText)).sort(), [
      'StateCoordinationTable',
      'StateInboxTable',
      'StateLinksTable',
      'StateSyncLogTable',
    ]);
    for (const role of STATE_TABLE_ROLES) {
      const resource = resources[STATE_TABLES[role].logicalId];
      assert.ok(resource, role);
      assert.equal(resource.Type, 'AWS::DynamoDB::Table');
      assert.equal(resource.Properties.BillingMode, 'PAY_PER_REQUEST');
      assert.equal(resource.Properties.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, true);
      assert.equal(
        resource.Properties.TableName['Fn::Sub'],
        `\${AWS::StackName}-${STATE_TABLES[role].suffix}`,
      );
    }
  });

  it('defines every key attribute, and only key attributes (CloudFormation rejects unused definitions)', () => {
    for (const [logicalId, resource] of Object.entries(resources)) {
      const props = resource.Properties;
      const keyAttributes = new Set([
        ...props.KeySchema.map((k) => k.AttributeName),
        ...(props.GlobalSecondaryIndexes ?? []).flatMap((g) => g.KeySchema.map((k) => k.AttributeName)),
      ]);
      const defined = new Set(props.AttributeDefinitions.map((d) => d.AttributeName));
      assert.deepEqual([...defined].sort(), [...keyAttributes].sort(), logicalId);
    }
  });

  it('expires items of the coordination, inbox and sync-log tables through purgeAtSec, never links', () => {
    const ttl = (role: (typeof STATE_TABLE_ROLES)[number]) =>
      resources[STATE_TABLES[role].logicalId]?.Properties.TimeToLiveSpecification;
    for (const role of ['coordination', 'inbox', 'syncLog'] as const) {
      assert.deepEqual(ttl(role), { AttributeName: PURGE_AT_ATTRIBUTE, Enabled: true }, role);
    }
    assert.equal(ttl('links'), undefined);
  });

  it('retains the links table when the stack is deleted or the table replaced (links prevent duplicates)', () => {
    const links = resources[STATE_TABLES.links.logicalId];
    assert.equal(links?.DeletionPolicy, 'Retain');
    assert.equal(links?.UpdateReplacePolicy, 'Retain');
  });

  it('has the indexes the stores query', () => {
    const indexNames = (logicalId: string) =>
      (resources[logicalId]?.Properties.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName).sort();
    assert.deepEqual(indexNames(STATE_TABLES.links.logicalId), Object.values(LINKS_INDEX).sort());
    assert.deepEqual(indexNames(STATE_TABLES.syncLog.logicalId), Object.values(SYNC_LOG_INDEX).sort());
    assert.deepEqual(indexNames(STATE_TABLES.inbox.logicalId), Object.values(INBOX_INDEX).sort());
  });
});

describe('localTableSpecs', () => {
  it('turns the template into CreateTable inputs named after the prefix, without AWS-only properties', () => {
    const specs = localTableSpecs('fxk3-local');
    assert.deepEqual(
      specs.map((s) => s.input.TableName),
      ['fxk3-local-coordination', 'fxk3-local-inbox', 'fxk3-local-links', 'fxk3-local-sync-log'],
    );
    const links = specs.find((s) => s.role === 'links');
    assert.equal(links?.ttlAttribute, undefined);
    assert.equal(links?.input.GlobalSecondaryIndexes?.length, 3);
    assert.equal(specs.find((s) => s.role === 'inbox')?.ttlAttribute, 'purgeAtSec');
    for (const spec of specs) {
      assert.equal(spec.input.BillingMode, 'PAY_PER_REQUEST');
      assert.equal('PointInTimeRecoverySpecification' in spec.input, false);
      assert.equal('Tags' in spec.input, false);
    }
  });
});

describe('stateTableNames', () => {
  it('names the tables <prefix>-<suffix> and publishes the env variable of each', () => {
    assert.deepEqual(stateTableNames('prod'), {
      coordination: 'prod-coordination',
      inbox: 'prod-inbox',
      links: 'prod-links',
      syncLog: 'prod-sync-log',
    });
    assert.deepEqual(
      STATE_TABLE_ROLES.map((role) => STATE_TABLES[role].env),
      ['STATE_TABLE_COORDINATION', 'STATE_TABLE_INBOX', 'STATE_TABLE_LINKS', 'STATE_TABLE_SYNC_LOG'],
    );
  });

  it('refuses a prefix that cannot be part of a DynamoDB table name', () => {
    for (const bad of ['', 'my stack', 'a/b', 'x'.repeat(201)]) {
      assert.throws(() => stateTableNames(bad), InvalidInputError, bad);
    }
  });
});

/**
 * The state tables, defined once in `infra/dynamodb-tables.json` (CloudFormation `AWS::DynamoDB::Table`
 * resources, included by serverless.yml as its `Resources`) and created from the same file locally and in
 * tests, so the cloud and the embedded engine can never disagree about keys and indexes.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import definitionsJson from '../../infra/dynamodb-tables.json' with { type: 'json' };
import { InvalidInputError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { realSleep, type Sleep } from '../rate-limit.ts';
import { StateError, toStateError } from './errors.ts';

/** The four tables, their CloudFormation logical ids and the environment variables carrying their names. */
export const STATE_TABLES = {
  coordination: {
    logicalId: 'StateCoordinationTable',
    suffix: 'coordination',
    env: 'STATE_TABLE_COORDINATION',
  },
  inbox: { logicalId: 'StateInboxTable', suffix: 'inbox', env: 'STATE_TABLE_INBOX' },
  links: { logicalId: 'StateLinksTable', suffix: 'links', env: 'STATE_TABLE_LINKS' },
  syncLog: { logicalId: 'StateSyncLogTable', suffix: 'sync-log', env: 'STATE_TABLE_SYNC_LOG' },
} as const;

export type StateTableRole = keyof typeof STATE_TABLES;
export type StateTableNames = Readonly<Record<StateTableRole, string>>;

export const STATE_TABLE_ROLES: readonly StateTableRole[] = ['coordination', 'inbox', 'links', 'syncLog'];

/** Name of the TTL attribute (epoch seconds) on every table that expires items. */
export const PURGE_AT_ATTRIBUTE = 'purgeAtSec';

/** Index names, as defined in the JSON file (checked by the unit tests). */
export const LINKS_INDEX = { byCrm: 'byCrm', byErpId: 'byErpId', byErpNumber: 'byErpNumber' } as const;
export const SYNC_LOG_INDEX = { byFlow: 'byFlow', failed: 'failed' } as const;
export const INBOX_INDEX = { pendingReads: 'pendingReads' } as const;

// biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub syntax, not a JS template
const STACK_NAME_VARIABLE = '${AWS::StackName}';

const keySchemaElement = z.object({
  AttributeName: z.string().min(1),
  KeyType: z.enum(['HASH', 'RANGE']),
});

const tableResourceSchema = z.object({
  Type: z.literal('AWS::DynamoDB::Table'),
  DeletionPolicy: z.enum(['Delete', 'Retain', 'Snapshot']).optional(),
  UpdateReplacePolicy: z.enum(['Delete', 'Retain', 'Snapshot']).optional(),
  Properties: z.object({
    TableName: z.object({ 'Fn::Sub': z.string().startsWith(`${STACK_NAME_VARIABLE}-`) }),
    BillingMode: z.literal('PAY_PER_REQUEST'),
    AttributeDefinitions: z.array(
      z.object({ AttributeName: z.string().min(1), AttributeType: z.enum(['S', 'N', 'B']) }),
    ),
    KeySchema: z.array(keySchemaElement).min(1).max(2),
    GlobalSecondaryIndexes: z
      .array(
        z.object({
          IndexName: z.string().min(3),
          KeySchema: z.array(keySchemaElement).min(1).max(2),
          Projection: z.object({
            ProjectionType: z.enum(['ALL', 'KEYS_ONLY', 'INCLUDE']),
            NonKeyAttributes: z.array(z.string()).optional(),
          }),
        }),
      )
      .optional(),
    TimeToLiveSpecification: z.object({ AttributeName: z.string().min(1), Enabled: z.boolean() }).optional(),
    PointInTimeRecoverySpecification: z.object({ PointInTimeRecoveryEnabled: z.boolean() }).optional(),
    Tags: z.array(z.object({ Key: z.string(), Value: z.string() })).optional(),
  }),
});

export type StateTableResource = z.output<typeof tableResourceSchema>;

const definitionsSchema = z.record(z.string(), tableResourceSchema);

/**
 * The parsed `infra/dynamodb-tables.json` (a CloudFormation `Resources` map).
 *
 * @throws {StateError} if the file does not have the expected shape (a broken edit of the template).
 */
export function stateTableResources(): Readonly<Record<string, StateTableResource>> {
  const parsed = definitionsSchema.safeParse(definitionsJson);
  if (!parsed.success) {
    throw new StateError(
      `infra/dynamodb-tables.json 格式无效 / infra/dynamodb-tables.json is malformed: ${parsed.error.message}`,
      { kind: 'config', fault: 'ours', code: 'STATE_SCHEMA_MISMATCH' },
    );
  }
  return parsed.data;
}

/** DynamoDB table names: 3–255 of `[A-Za-z0-9_.-]`; the longest suffix we append is `-coordination`. */
const PREFIX_PATTERN = /^[A-Za-z0-9_.-]{1,200}$/;

/**
 * Table names for a local deployment or a test: `<prefix>-links`, … (in AWS the names come from the stack,
 * `<stack>-links`, and reach the functions through the {@link STATE_TABLES} env variables).
 *
 * @throws {InvalidInputError} when the prefix cannot be part of a table name.
 */
export function stateTableNames(prefix: string): StateTableNames {
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new InvalidInputError(
      `表名前缀无效 / Invalid table name prefix "${prefix}": use 1–200 characters of A–Z a–z 0–9 _ . -`,
      'STATE_BAD_PREFIX',
    );
  }
  return {
    coordination: `${prefix}-${STATE_TABLES.coordination.suffix}`,
    inbox: `${prefix}-${STATE_TABLES.inbox.suffix}`,
    links: `${prefix}-${STATE_TABLES.links.suffix}`,
    syncLog: `${prefix}-${STATE_TABLES.syncLog.suffix}`,
  };
}

export interface LocalTableSpec {
  role: StateTableRole;
  input: CreateTableCommandInput;
  /** TTL attribute to enable after creation, when the template enables one. */
  ttlAttribute: string | undefined;
}

/**
 * Turn the CloudFormation definitions into `CreateTableCommand` inputs, with `${AWS::StackName}` replaced by
 * `prefix`. Properties that only exist in AWS (point-in-time recovery, tags, deletion policies) are left out.
 *
 * @throws {InvalidInputError} for a bad prefix; {@link StateError} for a malformed template.
 */
export function localTableSpecs(prefix: string): LocalTableSpec[] {
  const names = stateTableNames(prefix);
  const resources = stateTableResources();
  return STATE_TABLE_ROLES.map((role) => {
    const resource = resources[STATE_TABLES[role].logicalId];
    if (!resource) {
      throw new StateError(
        `infra/dynamodb-tables.json 缺少 ${STATE_TABLES[role].logicalId} / infra/dynamodb-tables.json lacks ${STATE_TABLES[role].logicalId}`,
        { kind: 'config', fault: 'ours', code: 'STATE_SCHEMA_MISMATCH' },
      );
    }
    const props = resource.Properties;
    const tableName = props.TableName['Fn::Sub'].replace(STACK_NAME_VARIABLE, prefix);
    if (tableName !== names[role]) {
      throw new StateError(
        `表 ${STATE_TABLES[role].logicalId} 的名称应以 -${STATE_TABLES[role].suffix} 结尾 / table ${STATE_TABLES[role].logicalId} must be named \${AWS::StackName}-${STATE_TABLES[role].suffix}`,
        { kind: 'config', fault: 'ours', code: 'STATE_SCHEMA_MISMATCH' },
      );
    }
    const input: CreateTableCommandInput = {
      TableName: tableName,
      BillingMode: props.BillingMode,
      AttributeDefinitions: props.AttributeDefinitions.map((d) => ({ ...d })),
      KeySchema: props.KeySchema.map((k) => ({ ...k })),
      ...(props.GlobalSecondaryIndexes
        ? {
            GlobalSecondaryIndexes: props.GlobalSecondaryIndexes.map((gsi) => ({
              IndexName: gsi.IndexName,
              KeySchema: gsi.KeySchema.map((k) => ({ ...k })),
              Projection: { ...gsi.Projection },
            })),
          }
        : {}),
    };
    const ttl = props.TimeToLiveSpecification;
    return { role, input, ttlAttribute: ttl?.Enabled ? ttl.AttributeName : undefined };
  });
}

export interface CreateStateTablesOptions {
  /** Table name prefix (the local stack uses e.g. `fxk3-local`; tests a random one). */
  prefix: string;
  logger?: Logger;
  /** How long to wait for a table to become ACTIVE. Default 60 s (dynalite: createTableMs; AWS: seconds). */
  activeTimeoutMs?: number;
  sleep?: Sleep;
}

export interface CreatedStateTables {
  names: StateTableNames;
  /** Tables this call created (the others already existed with the expected keys). */
  created: StateTableRole[];
  /** Whether the engine accepted UpdateTimeToLive (DynamoDB Local and AWS do; dynalite does not). */
  ttlSupported: boolean;
}

const ACTIVE_POLL_MS = 50;

/**
 * Create the state tables (if missing) on a local engine or a test endpoint, wait until they are ACTIVE, and
 * enable TTL where the engine supports it. Existing tables are checked against the template's keys and
 * indexes, so a local data directory from an incompatible version fails loudly instead of misbehaving.
 * Readers never rely on TTL deletion (they ignore expired items), so an engine without TTL is still correct.
 *
 * @throws {StateError} `STATE_SCHEMA_MISMATCH` when an existing table has other keys or indexes; other
 *   StateErrors when DynamoDB fails.
 */
export async function createStateTables(
  client: DynamoDBClient,
  options: CreateStateTablesOptions,
): Promise<CreatedStateTables> {
  const logger = options.logger ?? silentLogger;
  const sleep = options.sleep ?? realSleep;
  const specs = localTableSpecs(options.prefix);
  const created: StateTableRole[] = [];
  let ttlSupported = true;
  for (const spec of specs) {
    const name = spec.input.TableName ?? '';
    try {
      await client.send(new CreateTableCommand(spec.input));
      created.push(spec.role);
      logger.info('state.table.created', { table: name });
    } catch (error) {
      if (!(error instanceof Error) || error.name !== 'ResourceInUseException') {
        throw toStateError(error, 'CreateTable', name);
      }
    }
    await waitActiveAndMatching(client, spec, options.activeTimeoutMs ?? 60_000, sleep);
    if (spec.ttlAttribute && ttlSupported) {
      ttlSupported = await enableTtl(client, name, spec.ttlAttribute, logger);
    }
  }
  return { names: stateTableNames(options.prefix), created, ttlSupported };
}

async function waitActiveAndMatching(
  client: DynamoDBClient,
  spec: LocalTableSpec,
  timeoutMs: number,
  sleep: Sleep,
): Promise<void> {
  const name = spec.input.TableName ?? '';
  for (let waited = 0; ; waited += ACTIVE_POLL_MS) {
    let table: unknown;
    try {
      table = (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
    } catch (error) {
      throw toStateError(error, 'DescribeTable', name);
    }
    const described = describedTableSchema.safeParse(table);
    if (!described.success) {
      throw new StateError(`无法读取表 ${name} 的描述 / Cannot read the description of table ${name}`, {
        kind: 'internal',
        fault: 'theirs',
        code: 'STATE_INTERNAL',
      });
    }
    assertSameShape(spec, described.data);
    const indexesActive = (described.data.GlobalSecondaryIndexes ?? []).every(
      (gsi) => gsi.IndexStatus === undefined || gsi.IndexStatus === 'ACTIVE',
    );
    if (described.data.TableStatus === 'ACTIVE' && indexesActive) return;
    if (waited >= timeoutMs) {
      throw new StateError(`表 ${name} 未能就绪 / Table ${name} did not become ACTIVE`, {
        kind: 'transient',
        fault: 'theirs',
        code: 'STATE_UNAVAILABLE',
      });
    }
    await sleep(ACTIVE_POLL_MS);
  }
}

const describedTableSchema = z.object({
  TableStatus: z.string().optional(),
  KeySchema: z.array(keySchemaElement).optional(),
  GlobalSecondaryIndexes: z
    .array(
      z.object({
        IndexName: z.string(),
        KeySchema: z.array(keySchemaElement).optional(),
        IndexStatus: z.string().optional(),
      }),
    )
    .optional(),
});

type DescribedTable = z.output<typeof describedTableSchema>;

function keyText(keys: readonly { AttributeName?: string | undefined; KeyType?: string | undefined }[] = []) {
  return keys.map((k) => `${k.AttributeName}:${k.KeyType}`).join(',');
}

function assertSameShape(spec: LocalTableSpec, described: DescribedTable): void {
  const name = spec.input.TableName ?? '';
  const problems: string[] = [];
  if (keyText(spec.input.KeySchema) !== keyText(described.KeySchema)) {
    problems.push(`key ${keyText(described.KeySchema)} ≠ expected ${keyText(spec.input.KeySchema)}`);
  }
  const existing = new Map(
    (described.GlobalSecondaryIndexes ?? []).map((g) => [g.IndexName, keyText(g.KeySchema)]),
  );
  for (const gsi of spec.input.GlobalSecondaryIndexes ?? []) {
    const found = existing.get(gsi.IndexName ?? '');
    if (found === undefined) problems.push(`index ${gsi.IndexName} missing`);
    else if (found !== keyText(gsi.KeySchema)) problems.push(`index ${gsi.IndexName} has key ${found}`);
  }
  if (problems.length > 0) {
    throw new StateError(
      `已存在的表 ${name} 与 infra/dynamodb-tables.json 不一致（删除本地数据目录后重建）/ Existing table ${name} does not match infra/dynamodb-tables.json (delete the local data directory to recreate it): ${problems.join('; ')}`,
      { kind: 'config', fault: 'ours', code: 'STATE_SCHEMA_MISMATCH' },
    );
  }
}

/** Returns false when the engine does not implement TTL (dynalite answers UnknownOperationException). */
async function enableTtl(client: DynamoDBClient, table: string, attribute: string, logger: Logger) {
  try {
    const current = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
    const status = current.TimeToLiveDescription?.TimeToLiveStatus;
    if (status === 'ENABLED' || status === 'ENABLING') return true;
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
      }),
    );
    return true;
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'UnknownOperationException') {
      logger.debug('state.table.ttl-unsupported', { table });
      return false;
    }
    // Two processes creating the tables at once: the second UpdateTimeToLive is refused as a duplicate.
    if (name === 'ValidationException' && error instanceof Error && /already enabled/i.test(error.message)) {
      return true;
    }
    throw toStateError(error, 'UpdateTimeToLive', table);
  }
}

/**
 * State settings from the environment, read once at start-up: the four table names (set by serverless.yml
 * from the stack's resources, or by the local runtime) and the retention periods.
 */
import { z } from 'zod';
import { type Env, parseEnv } from '../env.ts';
import { DEFAULT_INBOX_RETENTION_MS } from './inbox.ts';
import { DEFAULT_SYNC_LOG_RETENTION_MS } from './sync-log.ts';
import { STATE_TABLES, type StateTableNames } from './tables.ts';

export const STATE_INBOX_RETENTION_DAYS = 'STATE_INBOX_RETENTION_DAYS';
export const STATE_SYNC_LOG_RETENTION_DAYS = 'STATE_SYNC_LOG_RETENTION_DAYS';

const DAY_MS = 86_400_000;
const tableName = z
  .string('is required (the DynamoDB table name; serverless.yml sets it from the stack)')
  .regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name (3–255 of A–Z a–z 0–9 _ . -)');
const days = (fallbackMs: number) =>
  z.coerce
    .number('must be a number of days')
    .positive('must be a positive number of days')
    .max(3_650, 'must be at most 3650 days')
    .default(fallbackMs / DAY_MS);

const schema = z.object({
  [STATE_TABLES.coordination.env]: tableName,
  [STATE_TABLES.inbox.env]: tableName,
  [STATE_TABLES.links.env]: tableName,
  [STATE_TABLES.syncLog.env]: tableName,
  [STATE_INBOX_RETENTION_DAYS]: days(DEFAULT_INBOX_RETENTION_MS),
  [STATE_SYNC_LOG_RETENTION_DAYS]: days(DEFAULT_SYNC_LOG_RETENTION_MS),
});

export interface StateConfig {
  tables: StateTableNames;
  inboxRetentionMs: number;
  syncLogRetentionMs: number;
}

/**
 * Read the state settings.
 *
 * @throws {ConfigError} naming every missing or bad variable.
 */
export function readStateConfig(env: Env): StateConfig {
  const parsed = parseEnv(schema, env);
  return {
    tables: {
      coordination: parsed[STATE_TABLES.coordination.env],
      inbox: parsed[STATE_TABLES.inbox.env],
      links: parsed[STATE_TABLES.links.env],
      syncLog: parsed[STATE_TABLES.syncLog.env],
    },
    inboxRetentionMs: Math.round(parsed[STATE_INBOX_RETENTION_DAYS] * DAY_MS),
    syncLogRetentionMs: Math.round(parsed[STATE_SYNC_LOG_RETENTION_DAYS] * DAY_MS),
  };
}

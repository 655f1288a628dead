/** Shared fixtures of the mapping tests: the shipped example config and CRM/K3 payload fixtures. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import { type CrmRecord, type CrmRecordWithDetails, crmRecordSchema } from '../../../lib/fxiaoke/records.ts';
import { parseSyncConfig, type SyncConfig } from '../../../lib/mappings/config.ts';
import { MappingError } from '../../../lib/mappings/errors.ts';

const exampleText = readFileSync(new URL('../../../config/sync.example.yaml', import.meta.url), 'utf8');

/** The shipped example config, parsed (what `npm start` uses in sandbox mode). */
export function exampleConfig(): SyncConfig {
  return parseSyncConfig(exampleText, { source: 'config/sync.example.yaml' });
}

type Path = readonly (string | number)[];

function isContainer(value: unknown): value is Record<string | number, unknown> {
  return typeof value === 'object' && value !== null;
}

/** The container at `path` in plain data, created (as objects) where missing. */
function containerAt(root: unknown, path: Path): Record<string | number, unknown> {
  let current = root;
  for (const key of path) {
    assert.ok(isContainer(current), `not an object at ${key}`);
    if (!isContainer(current[key])) current[key] = {};
    current = current[key];
  }
  assert.ok(isContainer(current));
  return current;
}

/** Edits of plain config data by key path (tests change one key at a time). */
export interface ConfigEdit {
  set(path: Path, value: unknown): void;
  delete(path: Path): void;
}

export function editData(root: unknown): ConfigEdit {
  return {
    set(path, value) {
      const last = path.at(-1);
      assert.ok(last !== undefined);
      containerAt(root, path.slice(0, -1))[last] = value;
    },
    delete(path) {
      const last = path.at(-1);
      assert.ok(last !== undefined);
      delete containerAt(root, path.slice(0, -1))[last];
    },
  };
}

/** The example config with edits applied to its plain data first. */
export function configWith(edit: (config: ConfigEdit) => void): SyncConfig {
  const raw: unknown = parse(exampleText);
  edit(editData(raw));
  return parseSyncConfig(stringify(raw), { source: 'edited.yaml' });
}

/** A fixture file's JSON, unparsed: callers validate it like any payload. */
export function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../../fixtures/mappings/${name}`, import.meta.url), 'utf8'));
}

const plainRecord = z.record(z.string(), z.unknown());
const salesOrderFileSchema = z.object({
  record: plainRecord,
  details: z.object({ SalesOrderProductObj: z.array(plainRecord) }),
});
type SalesOrderFile = z.output<typeof salesOrderFileSchema>;

/** The raw (unvalidated) record of a fixture file holding one record. */
export function rawRecord(name: string): Record<string, unknown> {
  return plainRecord.parse(fixture(name));
}

/** The raw sales order fixture ({record, details}). */
export function rawSalesOrder(): SalesOrderFile {
  return salesOrderFileSchema.parse(fixture('sales-order.json'));
}

/** A CRM record as the Fxiaoke client hands it over: validated by the shared record schema. */
export function crmRecord(raw: unknown): CrmRecord {
  return crmRecordSchema.parse(raw);
}

export function accountFixture(overrides: Record<string, unknown> = {}): CrmRecord {
  return crmRecord({ ...rawRecord('account-obj.json'), ...overrides });
}

export function salesOrderFixture(edit: (raw: SalesOrderFile) => void = () => {}): CrmRecordWithDetails {
  const raw = rawSalesOrder();
  edit(raw);
  return {
    record: crmRecord(raw.record),
    details: { SalesOrderProductObj: raw.details.SalesOrderProductObj.map(crmRecord) },
  };
}

export function productFixtures(): CrmRecord[] {
  return z.array(z.unknown()).parse(fixture('products.json')).map(crmRecord);
}

const rowsFixtureSchema = z.object({
  FormId: z.string(),
  FieldKeys: z.string(),
  rows: z.array(z.array(z.unknown())),
});
export type RowsFixture = z.output<typeof rowsFixtureSchema>;

/** A named ExecuteBillQuery answer from `k3-query-rows.json`. */
export function k3Rows(name: string): RowsFixture {
  const all = z.record(z.string(), z.unknown()).parse(fixture('k3-query-rows.json'));
  const found = name === '_comment' ? undefined : rowsFixtureSchema.optional().parse(all[name]);
  assert.ok(found, `no K3 rows fixture ${name}`);
  return found;
}

/** Run `fn`, expect a MappingError, return it. */
export function mappingError(fn: () => unknown): MappingError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof MappingError, `expected MappingError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a MappingError');
}

/** Shared fixtures of the mapping tests: the shipped example config and CRM/K3 payload fixtures. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
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

export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../fixtures/mappings/${name}`, import.meta.url), 'utf8')) as T;
}

/** A CRM record as the Fxiaoke client hands it over: validated by the shared record schema. */
export function crmRecord(raw: unknown): CrmRecord {
  return crmRecordSchema.parse(raw);
}

export function accountFixture(overrides: Record<string, unknown> = {}): CrmRecord {
  return crmRecord({ ...fixture<Record<string, unknown>>('account-obj.json'), ...overrides });
}

export function salesOrderFixture(
  edit: (raw: {
    record: Record<string, unknown>;
    details: { SalesOrderProductObj: Record<string, unknown>[] };
  }) => void = () => {},
): CrmRecordWithDetails {
  const raw = fixture<{
    record: Record<string, unknown>;
    details: { SalesOrderProductObj: Record<string, unknown>[] };
  }>('sales-order.json');
  edit(raw);
  return {
    record: crmRecord(raw.record),
    details: { SalesOrderProductObj: raw.details.SalesOrderProductObj.map(crmRecord) },
  };
}

export function productFixtures(): CrmRecord[] {
  return fixture<unknown[]>('products.json').map(crmRecord);
}

export interface RowsFixture {
  FormId: string;
  FieldKeys: string;
  rows: unknown[][];
}

export function k3Rows(name: string): RowsFixture {
  const all = fixture<Record<string, RowsFixture>>('k3-query-rows.json');
  const found = all[name];
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

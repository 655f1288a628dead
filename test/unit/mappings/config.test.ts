import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { ConfigError } from '../../../lib/errors.ts';
import { loadSyncConfigFile, parseSyncConfig, requireFlow } from '../../../lib/mappings/config.ts';
import { formatConfigPath } from '../../../lib/mappings/config-report.ts';
import { type ConfigEdit, editData } from './helpers.ts';

const EXAMPLE_PATH = new URL('../../../config/sync.example.yaml', import.meta.url);
const exampleText = readFileSync(EXAMPLE_PATH, 'utf8');

/** A small valid config as a JS value; tests break one key at a time. */
function minimal(): Record<string, unknown> {
  return {
    erp: { orgNumber: '100' },
    flows: {
      accountToCustomer: {
        externalKey: { erpField: 'F_FXK_CrmId' },
        fields: {
          FName: { from: 'name', required: true },
          FCustTypeId: { from: 'account_level', dictionary: 'customerType', ref: 'FNumber' },
        },
        dictionaries: { customerType: { values: { '1': 'KHLB001_SYS' }, default: 'KHLB001_SYS' } },
      },
    },
  };
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.kind, 'config');
    return [...error.problems];
  }
  assert.fail('expected a ConfigError');
}

const parseJson = (value: unknown, source = 'sync.json') =>
  parseSyncConfig(JSON.stringify(value, null, 2), { format: 'json', source });
const parseYaml = (value: unknown, source = 'sync.yaml') => parseSyncConfig(stringify(value), { source });

/** Apply `edit` to a fresh minimal config and return the problem lines of parsing it as YAML. */
function yamlProblems(edit: (config: ConfigEdit) => void): string[] {
  const config = minimal();
  edit(editData(config));
  return problemsOf(() => parseYaml(config));
}

const CUSTOMER = ['flows', 'accountToCustomer'] as const;

describe('mapping config', () => {
  describe('the shipped example', () => {
    it('parses, with every flow enabled and defaults filled in', () => {
      const config = parseSyncConfig(exampleText, { source: 'config/sync.example.yaml' });
      assert.equal(config.version, 1);
      assert.equal(config.erp.orgNumber, '100');
      assert.equal(config.erp.currencyNumber, 'PRE001');
      assert.deepEqual(config.crm.syncLifeStatuses, ['normal']);
      for (const flow of Object.values(config.flows)) assert.equal(flow?.enabled, true);
      const customer = requireFlow(config, 'accountToCustomer');
      assert.deepEqual(customer.externalKey, { erpField: 'F_FXK_CrmId', crmField: '_id' });
      // The shorthand `FTEL: tel` is a full rule with defaults.
      assert.deepEqual(customer.fields.FTEL, {
        from: 'tel',
        read: 'text',
        trim: true,
        required: false,
        createOnly: false,
      });
      assert.equal(requireFlow(config, 'deliveryToFxiaoke').pageSize, 500);
      assert.equal(requireFlow(config, 'purchaseOrderToInStock').overlapMs, 600_000);
    });

    it('loads from disk through loadSyncConfigFile', async () => {
      const config = await loadSyncConfigFile(EXAMPLE_PATH.pathname);
      assert.equal(config.flows.salesOrderToSaleOrder?.material.overrideField, 'field_erp_material_no__c');
    });

    it('names the file when it cannot be read', async () => {
      await assert.rejects(loadSyncConfigFile('/nonexistent/sync.yaml'), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.problems[0] ?? '', /^\/nonexistent\/sync\.yaml: .*ENOENT/);
        return true;
      });
    });
  });

  describe('formats', () => {
    it('YAML and JSON of the same content give the same config', () => {
      assert.deepEqual(parseYaml(minimal()), parseJson(minimal()));
    });

    it('infers JSON from the source extension', () => {
      const config = parseSyncConfig(JSON.stringify(minimal()), { source: 'ssm:/sync/config.json' });
      assert.equal(config.erp.orgNumber, '100');
    });

    it('reports a YAML syntax error with its line and column', () => {
      const problems = problemsOf(() =>
        parseSyncConfig('erp:\n  orgNumber: "100"\nflows: [unclosed\n', { source: 'bad.yaml' }),
      );
      assert.equal(problems.length >= 1, true);
      assert.match(problems[0] ?? '', /^bad\.yaml:\d+:\d+: YAML 语法错误 \/ YAML syntax error: /);
    });

    it('reports a JSON syntax error', () => {
      const problems = problemsOf(() => parseSyncConfig('{"erp": {', { format: 'json', source: 'bad.json' }));
      assert.match(problems[0] ?? '', /^bad\.json: JSON 语法错误 \/ JSON syntax error: /);
    });

    it('refuses duplicate keys in YAML and in JSON (JSON.parse would keep the last one silently)', () => {
      const yaml = problemsOf(() =>
        parseSyncConfig('erp:\n  orgNumber: "100"\n  orgNumber: "101"\n', { source: 'dup.yaml' }),
      );
      assert.match(yaml[0] ?? '', /^dup\.yaml:3:3: .*unique/);
      const json = problemsOf(() =>
        parseSyncConfig('{"erp": {"orgNumber": "100", "orgNumber": "101"}}', {
          format: 'json',
          source: 'dup.json',
        }),
      );
      assert.match(json[0] ?? '', /^dup\.json:1:\d+: 重复的键 \/ duplicate key/);
    });

    it('refuses an empty document', () => {
      assert.match(
        problemsOf(() => parseSyncConfig('# only a comment\n', { source: 'e.yaml' }))[0] ?? '',
        /empty/,
      );
    });
  });

  describe('problem paths', () => {
    it('a wrong type in a dictionary: the exact path, the source file and a hint to quote codes', () => {
      const problems = yamlProblems((c) =>
        c.set([...CUSTOMER, 'dictionaries', 'customerType', 'values', '1'], 2),
      );
      assert.equal(problems.length, 1);
      assert.match(
        problems[0] ?? '',
        /^sync\.yaml:\d+:\d+: flows\.accountToCustomer\.dictionaries\.customerType\.values\."1": expected a string, got the number 2 — write it in quotes \("2"\) \/ 应为文本/,
      );
    });

    it('points at the right line and column in YAML text', () => {
      const text = exampleText.replace('orgNumber: "100" #', 'orgNumber: 100 #');
      const problems = problemsOf(() => parseSyncConfig(text, { source: 'config/sync.example.yaml' }));
      const line = text.split('\n').findIndex((l) => l.includes('orgNumber: 100 ')) + 1;
      assert.deepEqual(problems, [
        `config/sync.example.yaml:${line}:3: erp.orgNumber: expected a string, got the number 100 — write it in quotes ("100") / 应为文本（请加引号）`,
      ]);
    });

    it('gives line numbers for JSON sources too', () => {
      const config = minimal();
      editData(config).set(['erp', 'currencyNumber'], 1);
      const problems = problemsOf(() => parseJson(config));
      assert.match(problems[0] ?? '', /^sync\.json:4:5: erp\.currencyNumber: expected a string/);
    });

    it('unknown keys at every level, with the closest known key as a hint', () => {
      const problems = yamlProblems((c) => {
        c.set(['typo'], 1);
        c.set(['erp', 'billType'], {});
        c.set(['flows', 'accountToCustomers'], {});
        c.set([...CUSTOMER, 'fields', 'FName', 'maxLenght'], 80);
      });
      const paths = problems.map((p) => p.replace(/^sync\.yaml:\d+:\d+: /, ''));
      assert.deepEqual(paths.sort(), [
        'erp.billType: unknown key (did you mean "billTypes"?) / 未知的配置项（是否应为 "billTypes"？）',
        'flows.accountToCustomer.fields.FName.maxLenght: unknown key (did you mean "maxLength"?) / 未知的配置项（是否应为 "maxLength"？）',
        'flows.accountToCustomers: unknown key (did you mean "accountToCustomer"?) / 未知的配置项（是否应为 "accountToCustomer"？）',
        'typo: unknown key / 未知的配置项',
      ]);
    });

    it('a missing required key', () => {
      const problems = yamlProblems((c) => c.delete(['erp', 'orgNumber']));
      assert.match(problems[0] ?? '', /: erp\.orgNumber: is required \/ 必填项缺失$/);
    });

    it('a bad field key, a bad CRM field name and a bad enum value', () => {
      const problems = yamlProblems((c) => {
        c.set([...CUSTOMER, 'fields', 'bad-key'], 'name');
        c.set([...CUSTOMER, 'fields', 'FTEL'], { from: 'tel phone' });
        c.set([...CUSTOMER, 'fields', 'FFAX'], { from: 'fax', read: 'texts' });
      });
      const text = problems.join('\n');
      assert.match(text, /flows\.accountToCustomer\.fields\."bad-key": invalid key: must be a K3 field key/);
      assert.match(text, /flows\.accountToCustomer\.fields\.FTEL\.from: must be a CRM field apiName/);
      assert.match(
        text,
        /flows\.accountToCustomer\.fields\.FFAX\.read: expected one of "text", "number", "date", "boolean", "id", got the text "texts"/,
      );
    });

    it('list items are addressed by index', () => {
      const problems = yamlProblems((c) =>
        c.set(['flows', 'deliveryToFxiaoke'], {
          sourceForms: ['SAL_OUTSTOCK', 'SAL_RETURNSTOCK'],
          note: { externalKeyField: 'field_erp_bill_no__c' },
        }),
      );
      assert.match(
        problems[0] ?? '',
        /: flows\.deliveryToFxiaoke\.sourceForms\[1\]: expected one of "SAL_OUTSTOCK", "SAL_DELIVERYNOTICE"/,
      );
    });

    it('rules need exactly one of from/const; maxLength only for text', () => {
      const problems = yamlProblems((c) => {
        c.set([...CUSTOMER, 'fields', 'FTEL'], { from: 'tel', const: 'x' });
        c.set([...CUSTOMER, 'fields', 'FFAX'], { read: 'text' });
        c.set([...CUSTOMER, 'fields', 'FPriority'], { from: 'account_level', read: 'number', maxLength: 3 });
      });
      const text = problems.join('\n');
      assert.match(text, /flows\.accountToCustomer\.fields\.FTEL: give exactly one of "from"/);
      assert.match(text, /flows\.accountToCustomer\.fields\.FFAX: give exactly one of "from"/);
      assert.match(
        text,
        /flows\.accountToCustomer\.fields\.FPriority\.maxLength: only applies to read: text/,
      );
    });

    it('unmapped: default needs a default', () => {
      const problems = yamlProblems((c) =>
        c.set([...CUSTOMER, 'dictionaries', 'customerType'], { values: {}, unmapped: 'default' }),
      );
      assert.match(
        problems[0] ?? '',
        /: flows\.accountToCustomer\.dictionaries\.customerType\.default: is required when unmapped is "default"/,
      );
    });

    it('cross-section checks: unknown dictionary, reserved and conflicting targets, FName, flow dependency', () => {
      const problems = yamlProblems((c) => {
        c.set([...CUSTOMER, 'fields', 'FCustTypeId', 'dictionary'], 'customerTypes');
        c.set([...CUSTOMER, 'fields', 'FCUSTID'], { const: 1 });
        c.set([...CUSTOMER, 'fields', 'F_FXK_CrmId'], 'account_no');
        c.set([...CUSTOMER, 'fields', 'fname'], 'name');
        c.set(['flows', 'saleOrderToDeliveryNotice'], {
          trigger: { crmField: 'field_ship_request__c', equals: true },
        });
      });
      const text = problems.join('\n');
      assert.match(
        text,
        /flows\.accountToCustomer\.fields\.FCustTypeId\.dictionary: no dictionary named "customerTypes"/,
      );
      assert.match(text, /flows\.accountToCustomer\.fields\.FCUSTID: FCUSTID is written by the flow itself/);
      assert.match(
        text,
        /flows\.accountToCustomer\.fields\.F_FXK_CrmId: F_FXK_CrmId is written by the flow itself/,
      );
      assert.match(text, /flows\.accountToCustomer\.fields\.fname: conflicts with FName/);
      assert.match(text, /flows\.saleOrderToDeliveryNotice: needs flows\.salesOrderToSaleOrder enabled/);
    });

    it('delivery notes: fields the flow writes cannot be remapped; startFrom must be a real date', () => {
      const problems = yamlProblems((c) =>
        c.set(['flows', 'deliveryToFxiaoke'], {
          startFrom: '2026-02-30',
          note: { externalKeyField: 'field_erp_bill_no__c', fields: { sales_order_id: { const: 'x' } } },
          noteLine: { fields: { delivery_num: 'FQty' } },
        }),
      );
      const text = problems.join('\n');
      assert.match(text, /flows\.deliveryToFxiaoke\.startFrom: is not a calendar date/);
      assert.match(
        text,
        /flows\.deliveryToFxiaoke\.note\.fields\.sales_order_id: sales_order_id is written by the flow itself/,
      );
      const crossed = yamlProblems((c) =>
        c.set(['flows', 'deliveryToFxiaoke'], {
          note: { externalKeyField: 'field_erp_bill_no__c', fields: { sales_order_id: { const: 'x' } } },
          noteLine: { fields: { delivery_num: 'FQty', remark: { from: 'FNote', dictionary: 'none' } } },
        }),
      ).join('\n');
      assert.match(
        crossed,
        /flows\.deliveryToFxiaoke\.note\.fields\.sales_order_id: sales_order_id is written by the flow itself/,
      );
      assert.match(
        crossed,
        /flows\.deliveryToFxiaoke\.noteLine\.fields\.delivery_num: delivery_num is written by the flow itself/,
      );
      assert.match(
        crossed,
        /flows\.deliveryToFxiaoke\.noteLine\.fields\.remark\.dictionary: no dictionary named "none"/,
      );
    });

    it('entry rows have no sub-headers', () => {
      const problems = yamlProblems((c) =>
        c.set(['flows', 'salesOrderToSaleOrder'], {
          externalKey: { erpField: 'F_FXK_CrmId' },
          entryFields: { 'FEntity.FNote': 'remark' },
        }),
      );
      assert.match(
        problems.join('\n'),
        /flows\.salesOrderToSaleOrder\.entryFields\."FEntity\.FNote": entry rows have no sub-headers/,
      );
    });

    it('a customer mapping without FName is refused', () => {
      const problems = yamlProblems((c) => c.delete([...CUSTOMER, 'fields', 'FName']));
      assert.match(problems[0] ?? '', /flows\.accountToCustomer\.fields: must map FName/);
    });

    it('reports every problem at once', () => {
      const problems = yamlProblems((c) => {
        c.set(['erp', 'orgNumber'], 100);
        c.set(['erp', 'taxRatePercent'], 130);
        c.set(['crm'], { syncLifeStatuses: [] });
      });
      assert.equal(problems.length, 3);
      assert.match(problems.join('\n'), /erp\.taxRatePercent: must be ≤ 100/);
      assert.match(problems.join('\n'), /crm\.syncLifeStatuses: must have at least 1 item\(s\)/);
    });
  });

  describe('formatConfigPath', () => {
    it('quotes keys that are not identifiers and indexes lists', () => {
      assert.equal(
        formatConfigPath(['flows', 'a', 'values', '1', 'x.y', 0, 'b']),
        'flows.a.values."1"."x.y"[0].b',
      );
      assert.equal(formatConfigPath([]), '(root)');
    });
  });

  describe('requireFlow', () => {
    it('refuses a disabled or absent flow with a config error', () => {
      const config = minimal();
      editData(config).set([...CUSTOMER, 'enabled'], false);
      const parsed = parseYaml(config);
      assert.throws(
        () => requireFlow(parsed, 'accountToCustomer'),
        /flows\.accountToCustomer: .*not configured or not enabled/,
      );
      assert.throws(() => requireFlow(parsed, 'deliveryToFxiaoke'), ConfigError);
    });
  });
});

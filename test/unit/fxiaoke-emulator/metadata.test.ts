import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FxiaokeApiError } from '../../../infra/local/fxiaoke-emulator/errors.ts';
import {
  BUILTIN_OBJECTS,
  describeObject,
  ObjectRegistry,
  ObjectSpecError,
} from '../../../infra/local/fxiaoke-emulator/metadata.ts';

const visitSpec: unknown = JSON.parse(
  readFileSync(new URL('../../fixtures/fxiaoke-emulator/object_visit__c.json', import.meta.url), 'utf8'),
);

describe('ObjectRegistry', () => {
  describe('built-in objects', () => {
    const registry = new ObjectRegistry(BUILTIN_OBJECTS);

    it('derives master–detail relations from master_detail fields', () => {
      assert.deepEqual(registry.require('SalesOrderObj').detailApiNames, ['SalesOrderProductObj']);
      assert.deepEqual(registry.require('DeliveryNoteObj').detailApiNames, ['DeliveryNoteProductObj']);
      assert.deepEqual(registry.require('PaymentObj').detailApiNames, ['OrderPaymentObj']);
      assert.equal(registry.require('SalesOrderProductObj').masterField?.apiName, 'order_id');
      assert.equal(registry.require('AccountObj').masterField, undefined);
    });

    it('adds the system fields to every object, read-only except owner/department/record type/lock', () => {
      for (const object of registry.list()) {
        for (const name of ['_id', 'owner', 'version', 'life_status', 'is_deleted', 'last_modified_time']) {
          assert.ok(object.fields.has(name), `${object.apiName}.${name}`);
        }
        assert.equal(object.fields.get('version')?.readOnly, true);
        assert.equal(object.fields.get('owner')?.readOnly, false);
      }
    });

    it('marks define_type system / package / custom and computed fields read-only', () => {
      const order = describeObject(registry.require('SalesOrderObj'));
      const fields = order.fields as Record<string, { define_type: string; is_readonly: boolean }>;
      assert.equal(fields._id?.define_type, 'system');
      assert.equal(fields.account_id?.define_type, 'package');
      assert.equal(fields.field_ship_request__c?.define_type, 'custom');
      assert.equal(fields.order_amount?.is_readonly, true);
      assert.equal(fields.name?.is_readonly, true, 'auto number');
      assert.equal(order.define_type, 'package');
      assert.equal(describeObject(registry.require('object_erp_sync_log__c')).define_type, 'custom');
    });

    it('answers an unknown object with Fxiaoke’s 15002', () => {
      assert.throws(
        () => registry.require('NoSuchObj'),
        (error: unknown) => error instanceof FxiaokeApiError && error.errorCode === 15002,
      );
    });
  });

  describe('custom objects declared as data', () => {
    it('loads the JSON fixture (auto number defaults filled in)', () => {
      const registry = new ObjectRegistry([...BUILTIN_OBJECTS, visitSpec]);
      const visit = registry.require('object_visit__c');
      assert.equal(visit.defineType, 'custom');
      assert.deepEqual(visit.fields.get('name')?.autoNumber, {
        prefix: 'BF',
        dateFormat: 'yyyyMMdd',
        separator: '-',
        serialDigits: 4,
        reset: 'daily',
      });
      assert.equal(visit.fields.get('field_account__c')?.target, 'AccountObj');
    });

    it('refuses inconsistent declarations with a message naming the problem', () => {
      const cases: [unknown, RegExp][] = [
        [
          { apiName: 'object_a__c', displayName: 'a', fields: [{ apiName: 'x', type: 'text', label: 'x' }] },
          /name/,
        ],
        [
          {
            apiName: 'object_b__c',
            displayName: 'b',
            fields: [
              { apiName: 'name', type: 'text', label: 'n' },
              { apiName: 'name', type: 'text', label: 'n' },
            ],
          },
          /重复定义/,
        ],
        [
          {
            apiName: 'object_c__c',
            displayName: 'c',
            fields: [
              { apiName: 'name', type: 'text', label: 'n' },
              { apiName: 'field_t__c', type: 'object_reference', label: 't', target: 'Nope' },
            ],
          },
          /Nope/,
        ],
        [
          {
            apiName: 'object_d__c',
            displayName: 'd',
            fields: [
              { apiName: 'name', type: 'text', label: 'n' },
              { apiName: 'field_s__c', type: 'select_one', label: 's' },
            ],
          },
          /options/,
        ],
        [
          {
            apiName: 'object_e__c',
            displayName: 'e',
            fields: [{ apiName: 'name', type: 'blob', label: 'n' }],
          },
          /type/,
        ],
        [
          {
            apiName: 'object_f__c',
            displayName: 'f',
            fields: [
              { apiName: 'name', type: 'text', label: 'n' },
              {
                apiName: 'field_sum__c',
                type: 'currency',
                label: 's',
                compute: { kind: 'detail_sum', detail: 'AccountObj', field: 'name' },
              },
            ],
          },
          /sum source/,
        ],
      ];
      for (const [spec, message] of cases) {
        assert.throws(
          () => new ObjectRegistry([...BUILTIN_OBJECTS, spec]),
          (error: unknown) => {
            assert.ok(error instanceof ObjectSpecError, String(error));
            assert.match(error.message, message);
            return true;
          },
        );
      }
    });

    it('declare() is all-or-nothing and may redefine custom but not preset objects', () => {
      const registry = new ObjectRegistry(BUILTIN_OBJECTS);
      assert.deepEqual(registry.declare([visitSpec]), ['object_visit__c']);
      assert.throws(() =>
        registry.declare([{ ...Object(visitSpec), apiName: 'object_x__c' }, { apiName: 'AccountObj' }]),
      );
      assert.equal(registry.get('object_x__c'), undefined, 'nothing from a refused batch is kept');
      assert.ok(registry.get('object_visit__c'));
      assert.throws(
        () =>
          registry.declare([
            {
              apiName: 'AccountObj',
              displayName: 'x',
              fields: [{ apiName: 'name', type: 'text', label: 'n' }],
            },
          ]),
        ObjectSpecError,
      );
      const redefined = {
        apiName: 'object_visit__c',
        displayName: '拜访',
        fields: [{ apiName: 'name', type: 'text', label: '主题' }],
      };
      registry.declare([redefined]);
      assert.equal(registry.require('object_visit__c').fields.get('name')?.type, 'text');
    });
  });
});

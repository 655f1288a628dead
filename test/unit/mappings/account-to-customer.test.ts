import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../lib/errors.ts';
import {
  buildCustomerAllocate,
  buildCustomerLookup,
  buildCustomerWriteBack,
  mapAccountToCustomer,
  parseCustomerLookup,
} from '../../../lib/mappings/account-to-customer.ts';
import { crmRecordEligibility } from '../../../lib/mappings/crm-record.ts';
import {
  accountFixture,
  configWith,
  crmRecord,
  exampleConfig,
  k3Rows,
  mappingError,
  rawRecord,
} from './helpers.ts';

const config = exampleConfig();
const account = accountFixture();
const CUSTOMER = ['flows', 'accountToCustomer'] as const;

describe('account-to-customer', () => {
  describe('mapAccountToCustomer — create', () => {
    const mapping = mapAccountToCustomer(account, config);

    it('builds the BD_Customer Model from the fixture as Fxiaoke returns it', () => {
      assert.equal(mapping.formId, 'BD_Customer');
      assert.equal(mapping.mode, 'create');
      assert.deepEqual(mapping.save, {
        Model: {
          FCUSTID: 0,
          FCreateOrgId: { FNumber: '100' },
          FUseOrgId: { FNumber: '100' },
          F_FXK_CrmId: '65a1f0c2e4b0a1b2c3d4e5f6',
          FTRADINGCURRID: { FNumber: 'PRE001' },
          FTaxRate: { FNumber: 'SL02_SYS' },
          FName: '上海华东贸易有限公司',
          FShortName: '上海华东贸易有限公司',
          FCOUNTRY: { FNumber: 'China' },
          FCustTypeId: { FNumber: 'KHLB001_SYS' },
          FTaxType: { FNumber: 'SFL02_SYS' },
          FInvoiceType: '1',
          FPriority: 1,
          FISCREDITCHECK: true,
          FIsTrade: true,
          FTEL: '021-55550101',
          FADDRESS: '上海市浦东新区张江路 88 号',
          FWEBSITE: 'https://huadong-trade.example.cn',
          FTAXREGISTERCODE: '91310115MA1K0000XX',
          FINVOICETITLE: '上海华东贸易有限公司',
          FINVOICEBANKNAME: '招商银行上海张江支行',
          FINVOICEBANKACCOUNT: '6225 8801 2345 6789',
          FINVOICETEL: '021-55550101',
          FINVOICEADDRESS: '上海市浦东新区张江路 88 号',
          FSELLER: { FNumber: 'SALER002' },
        },
      });
      assert.deepEqual(mapping.externalKey, { erpField: 'F_FXK_CrmId', value: '65a1f0c2e4b0a1b2c3d4e5f6' });
      assert.equal(mapping.submitAndAudit, true);
      assert.deepEqual(mapping.notes, []);
    });

    it('keeps K3 template order: primary key, organisations, key, then the configured fields', () => {
      assert.deepEqual(Object.keys(mapping.save.Model).slice(0, 7), [
        'FCUSTID',
        'FCreateOrgId',
        'FUseOrgId',
        'F_FXK_CrmId',
        'FTRADINGCURRID',
        'FTaxRate',
        'FName',
      ]);
    });

    it('ignores unknown and unmapped CRM fields', () => {
      const noisy = accountFixture({
        field_region_code__c: 'WEST',
        extend_obj_data_id: 'other',
        account_source: '1',
      });
      assert.deepEqual(mapAccountToCustomer(noisy, config).save, mapping.save);
    });
  });

  describe('mapAccountToCustomer — update', () => {
    const mapping = mapAccountToCustomer(account, config, { existing: { id: 100234 } });

    it('sends the existing id, no create-only organisations, and lists exactly the sent keys', () => {
      assert.equal(mapping.mode, 'update');
      const model = mapping.save.Model;
      assert.equal(model.FCUSTID, 100234);
      assert.equal('FCreateOrgId' in model, false);
      assert.equal('FUseOrgId' in model, false);
      assert.deepEqual(
        mapping.save.NeedUpDateFields,
        Object.keys(model).filter((key) => key !== 'FCUSTID'),
      );
      assert.equal(mapping.save.IsDeleteEntry, false, 'never let K3 delete contact/bank rows');
    });

    it('clears text the CRM user emptied instead of keeping stale ERP text', () => {
      assert.equal(mapping.save.Model.FFAX, '');
      assert.equal(mapping.save.Model.FDescription, '');
      assert.ok(mapping.save.NeedUpDateFields?.includes('FFAX'));
    });

    it('has the same content hash as the create (ids are not content)', () => {
      assert.equal(mapping.contentHash, mapAccountToCustomer(account, config).contentHash);
    });
  });

  describe('content hash', () => {
    const base = mapAccountToCustomer(account, config).contentHash;

    it('is stable under the key order of the CRM record', () => {
      const raw = rawRecord('account-obj.json');
      const reversed = crmRecord(Object.fromEntries(Object.entries(raw).reverse()));
      assert.equal(mapAccountToCustomer(reversed, config).contentHash, base);
    });

    it('ignores changes of unmapped fields (a new CRM version with nothing to send)', () => {
      const touched = accountFixture({
        version: '9',
        last_modified_time: 1795999999999,
        account_source: '2',
      });
      assert.equal(mapAccountToCustomer(touched, config).contentHash, base);
    });

    it('changes when a mapped value changes', () => {
      assert.notEqual(
        mapAccountToCustomer(accountFixture({ tel: '021-55550102' }), config).contentHash,
        base,
      );
      assert.notEqual(mapAccountToCustomer(accountFixture({ owner: ['1000'] }), config).contentHash, base);
    });
  });

  describe('problems', () => {
    it('a missing name is a business error naming the record and the field', () => {
      const error = mappingError(() => mapAccountToCustomer(accountFixture({ name: '   ' }), config));
      assert.equal(error.kind, 'business');
      assert.equal(error.fault, 'caller');
      assert.equal(error.code, 'MAPPING_REQUIRED_FIELD_MISSING');
      assert.deepEqual(error.record, { apiName: 'AccountObj', id: '65a1f0c2e4b0a1b2c3d4e5f6', name: '   ' });
      assert.match(error.message, /^客户 AccountObj「 {3}」\(id 65a1f0c2e4b0a1b2c3d4e5f6\) 无法映射/);
      assert.match(
        error.message,
        /必填字段 name 为空（用于 FName） \/ required field name is empty \(needed for FName\)/,
      );
    });

    it('reports every problem at once; a config problem makes the whole error kind config', () => {
      const error = mappingError(() =>
        mapAccountToCustomer(accountFixture({ name: null, account_level: '7' }), config),
      );
      assert.equal(error.kind, 'config');
      assert.equal(error.code, 'MAPPING_MULTIPLE_PROBLEMS');
      assert.deepEqual(
        error.problems.map((p) => [p.kind, p.code, p.field]),
        [
          ['business', 'REQUIRED_FIELD_MISSING', 'name'],
          ['config', 'UNMAPPED_VALUE', 'account_level'],
        ],
      );
      assert.deepEqual(error.toJSON().problems, [
        { kind: 'business', code: 'REQUIRED_FIELD_MISSING', field: 'name' },
        { kind: 'config', code: 'UNMAPPED_VALUE', field: 'account_level' },
      ]);
    });

    it('a long name is truncated with a note, not refused', () => {
      const long = '上海'.repeat(50);
      const mapping = mapAccountToCustomer(accountFixture({ name: long }), config);
      assert.equal(mapping.save.Model.FName, long.slice(0, 80));
      assert.deepEqual(
        mapping.notes.map((n) => [n.code, n.target]),
        [
          ['TRUNCATED', 'FName'],
          ['TRUNCATED', 'FShortName'],
        ],
      );
    });

    it('refuses to run when the flow is disabled', () => {
      const disabled = configWith((c) => c.set([...CUSTOMER, 'enabled'], false));
      assert.throws(() => mapAccountToCustomer(account, disabled), ConfigError);
    });
  });

  describe('external key in FNumber (account_no)', () => {
    const byNumber = configWith((c) =>
      c.set([...CUSTOMER, 'externalKey'], { erpField: 'FNumber', crmField: 'account_no' }),
    );

    it('writes the CRM number as the customer code', () => {
      const mapping = mapAccountToCustomer(account, byNumber);
      assert.equal(mapping.save.Model.FNumber, 'KH-2026-0001');
      assert.equal('F_FXK_CrmId' in mapping.save.Model, false);
      assert.deepEqual(mapping.externalKey, { erpField: 'FNumber', value: 'KH-2026-0001' });
    });

    it('an account without a number cannot be synced: business error on the key field', () => {
      const error = mappingError(() => mapAccountToCustomer(accountFixture({ account_no: '' }), byNumber));
      assert.equal(error.kind, 'business');
      assert.equal(error.problems[0]?.field, 'account_no');
      assert.match(error.message, /external key field account_no is empty/);
    });

    it('the lookup escapes quotes in the key', () => {
      const query = buildCustomerLookup(accountFixture({ account_no: "KH'01" }), byNumber);
      assert.equal(query.FilterString, "(FNumber = 'KH''01') AND (FUseOrgId.FNumber = '100')");
    });
  });

  describe('lookup', () => {
    const query = buildCustomerLookup(account, config);

    it('finds the customer by external key in the flow organisation (allocation copies share the key)', () => {
      assert.equal(query.FormId, 'BD_Customer');
      assert.equal(query.FieldKeys, k3Rows('customerLookup').FieldKeys);
      assert.equal(
        query.FilterString,
        "(F_FXK_CrmId = '65a1f0c2e4b0a1b2c3d4e5f6') AND (FUseOrgId.FNumber = '100')",
      );
    });

    it('reads the found customer, nothing, or refuses duplicates', () => {
      assert.deepEqual(parseCustomerLookup(query, k3Rows('customerLookup').rows, account), {
        id: 100234,
        number: 'CUST0004',
        documentStatus: 'C',
        forbidStatus: 'A',
      });
      assert.equal(parseCustomerLookup(query, [], account), undefined);
      const error = mappingError(() =>
        parseCustomerLookup(query, k3Rows('customerLookupDuplicate').rows, account),
      );
      assert.equal(error.code, 'MAPPING_DUPLICATE_EXTERNAL_KEY');
      assert.match(error.message, /CUST0004, CUST0009/);
    });
  });

  describe('after the save', () => {
    it('allocates to the resolved organisation ids', () => {
      assert.deepEqual(buildCustomerAllocate(100234, [100005, 100006], config), {
        PkIds: '100234',
        TOrgIds: '100005,100006',
        IsAutoSubmitAndAudit: true,
      });
      const noAllocate = configWith((c) => c.delete([...CUSTOMER, 'allocate']));
      assert.equal(buildCustomerAllocate(100234, [100005], noAllocate), undefined);
    });

    it('writes the ERP number back once', () => {
      assert.deepEqual(buildCustomerWriteBack(account, 'CUST0004', config), {
        dataObjectApiName: 'AccountObj',
        _id: '65a1f0c2e4b0a1b2c3d4e5f6',
        field_erp_no__c: 'CUST0004',
      });
      assert.equal(
        buildCustomerWriteBack(accountFixture({ field_erp_no__c: 'CUST0004' }), 'CUST0004', config),
        undefined,
      );
    });
  });

  describe('eligibility', () => {
    it('syncs normal records only, by default', () => {
      assert.deepEqual(crmRecordEligibility(account, config), { eligible: true });
      const review = crmRecordEligibility(accountFixture({ life_status: 'under_review' }), config);
      assert.equal(review.eligible, false);
      assert.equal(review.eligible === false && review.reason, 'life-status');
      const deleted = crmRecordEligibility(accountFixture({ is_deleted: true }), config);
      assert.equal(deleted.eligible === false && deleted.reason, 'deleted');
      assert.deepEqual(crmRecordEligibility(accountFixture({ life_status: null }), config), {
        eligible: true,
      });
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FORMS, PUSH_RULES } from '../../../infra/local/k3cloud-emulator/forms.ts';
import { type FormMeta, FormRegistry, viewNameOf } from '../../../infra/local/k3cloud-emulator/metadata.ts';

describe('k3cloud emulator metadata', () => {
  const registry = new FormRegistry(FORMS);

  it('serves every form the issue lists, case-insensitively and by alias', () => {
    for (const formId of [
      'BD_Customer',
      'BD_MATERIAL',
      'BD_Supplier',
      'SAL_SaleOrder',
      'SAL_DELIVERYNOTICE',
      'SAL_OUTSTOCK',
      'PUR_PurchaseOrder',
      'STK_InStock',
    ]) {
      assert.equal(registry.get(formId.toLowerCase())?.meta.formId, formId);
    }
    assert.equal(registry.get('v_bd_salesman')?.meta.formId, 'BD_Saler');
    assert.equal(registry.get('BD_Material')?.meta.formId, 'BD_MATERIAL');
    assert.equal(registry.get('SAL_SaleOrder')?.fields.get('fsaleorderfinance'), undefined);
    assert.equal(
      registry.get('SAL_SaleOrder')?.fields.get('fsettlecurrid')?.entity?.key,
      'FSaleOrderFinance',
    );
  });

  it('declares the extension field F_FXK_CrmId on BD_Customer and SAL_SaleOrder', () => {
    for (const formId of ['BD_Customer', 'SAL_SaleOrder']) {
      assert.equal(registry.get(formId)?.fields.get('f_fxk_crmid')?.field.type, 'text');
    }
  });

  it('push rules name existing forms, entries and fields', () => {
    for (const rule of PUSH_RULES) {
      const source = registry.require(rule.sourceFormId);
      const target = registry.require(rule.targetFormId);
      assert.equal(source.entities.get(rule.sourceEntry.toLowerCase())?.kind, 'entry', rule.ruleId);
      assert.equal(target.entities.get(rule.targetEntry.toLowerCase())?.kind, 'entry', rule.ruleId);
      for (const key of [...Object.keys(rule.header), ...Object.keys(rule.entry), rule.targetQty]) {
        assert.ok(target.fields.has(key.toLowerCase()), `${rule.ruleId}: ${key}`);
      }
      for (const spec of [...Object.values(rule.header), ...Object.values(rule.entry)]) {
        if ('from' in spec)
          assert.ok(source.fields.has(spec.from.toLowerCase()), `${rule.ruleId}: ${spec.from}`);
        if ('fromEntry' in spec) assert.ok(source.fields.has(spec.fromEntry.toLowerCase()), spec.fromEntry);
      }
    }
  });

  it('refuses inconsistent metadata at start-up', () => {
    const broken: FormMeta = {
      formId: 'X_Broken',
      name: 'x',
      kind: 'base',
      pkKey: 'FID',
      numberKey: 'FNumber',
      numberLabel: '编码',
      uniqueRuleName: 'x',
      tableName: 'T_X',
      header: [{ key: 'FRef', label: 'r', type: 'ref', ref: 'NO_SUCH_FORM' }],
      entities: [],
    };
    assert.throws(() => new FormRegistry([broken]), /unknown form/);
    const duplicate = {
      ...broken,
      header: [
        { key: 'FA', label: 'a', type: 'text' as const },
        { key: 'fa', label: 'b', type: 'text' as const },
      ],
    };
    assert.throws(() => new FormRegistry([duplicate]), /duplicate field/);
  });

  it('names View properties as K3 does', () => {
    assert.equal(viewNameOf({ key: 'FCustId' }), 'CustId');
    assert.equal(viewNameOf({ key: 'F_FXK_CrmId' }), 'F_FXK_CrmId');
    assert.equal(viewNameOf({ key: 'FModifyDate', view: 'FModifyDate' }), 'FModifyDate');
  });
});

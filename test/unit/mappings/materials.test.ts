import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildMaterialQuery,
  type ErpMaterial,
  materialOfProduct,
  parseMaterialRows,
  resolveMaterials,
} from '../../../lib/mappings/materials.ts';
import { configWith, exampleConfig, mappingError, productFixtures } from './helpers.ts';

const config = exampleConfig();
const ORDER = ['flows', 'salesOrderToSaleOrder'] as const;
const withCrmUnits = configWith((c) => {
  c.set([...ORDER, 'material', 'unitField'], 'unit');
  c.set([...ORDER, 'material', 'unitDictionary'], 'units');
  c.set([...ORDER, 'dictionaries', 'units'], {
    values: { '1': 'Pcs', '2': 'Box', '3': 'kg' },
    unmapped: 'error',
  });
});
const [boxCase, board, screws, sample] = productFixtures();

const erp = (number: string, extra: Partial<ErpMaterial> = {}): [string, ErpMaterial] => [
  number,
  { id: 1, number, baseUnitNumber: 'Pcs', documentStatus: 'C', forbidStatus: 'A', ...extra },
];

describe('materials', () => {
  describe('materialOfProduct', () => {
    it('takes the product code, or the override field when it is filled (trimmed)', () => {
      assert.ok(boxCase && board && sample);
      assert.deepEqual(materialOfProduct(boxCase, config), { number: 'WL0001' });
      assert.deepEqual(materialOfProduct(board, config), { number: 'WL0003' });
      assert.equal(materialOfProduct(sample, config), undefined, 'an empty product code names no material');
    });

    it('takes the unit from the product through the unit dictionary when configured', () => {
      assert.ok(boxCase && board);
      assert.deepEqual(materialOfProduct(boxCase, withCrmUnits), { number: 'WL0001', unitNumber: 'Pcs' });
      assert.deepEqual(materialOfProduct(board, withCrmUnits), { number: 'WL0003', unitNumber: 'Box' });
    });

    it('an unknown unit option is a config error naming the dictionary', () => {
      assert.ok(screws);
      const error = mappingError(() => materialOfProduct(screws, withCrmUnits));
      assert.equal(error.kind, 'config');
      assert.deepEqual(error.record, {
        apiName: 'ProductObj',
        id: '65a0000000000000000000a5',
        name: '螺丝套装',
      });
      assert.match(
        error.message,
        /field unit has "9", which dictionary flows\.salesOrderToSaleOrder\.dictionaries\.units/,
      );
    });
  });

  describe('K3 lookup', () => {
    it('queries the numbers once each, in the sale organisation', () => {
      const query = buildMaterialQuery(config, ['WL0001', "WL'2", 'WL0001']);
      assert.equal(query.FormId, 'BD_MATERIAL');
      assert.equal(query.FieldKeys, 'FMATERIALID,FNumber,FDocumentStatus,FForbidStatus,FBaseUnitId.FNumber');
      assert.equal(query.FilterString, "(FNumber IN ('WL0001','WL''2')) AND (FUseOrgId.FNumber = '100')");
      assert.equal(query.Limit, 2);
      const rows = parseMaterialRows(query, [
        [100001, 'WL0001', 'C', 'A', 'Pcs'],
        [100009, "WL'2", 'A', 'A', null],
      ]);
      assert.deepEqual(rows.get("WL'2"), {
        id: 100009,
        number: "WL'2",
        baseUnitNumber: undefined,
        documentStatus: 'A',
        forbidStatus: 'A',
      });
    });
  });

  describe('resolveMaterials', () => {
    it('keeps products K3 can sell and says why the others cannot be', () => {
      const products = productFixtures();
      const { materials, unusable } = resolveMaterials(
        products,
        config,
        new Map([
          erp('WL0001'),
          erp('WL0003', { documentStatus: 'B' }),
          erp('WL0005', { forbidStatus: 'B' }),
        ]),
      );
      assert.deepEqual(
        [...materials],
        [['65a0000000000000000000a1', { number: 'WL0001', unitNumber: 'Pcs' }]],
      );
      assert.deepEqual(unusable, [
        { productId: '65a0000000000000000000a3', materialNumber: 'WL0003', reason: 'not-audited' },
        { productId: '65a0000000000000000000a5', materialNumber: 'WL0005', reason: 'forbidden' },
        { productId: '65a0000000000000000000a9', materialNumber: undefined, reason: 'no-number' },
      ]);
      const missing = resolveMaterials(products.slice(0, 1), config, new Map());
      assert.deepEqual(missing.unusable[0]?.reason, 'not-in-k3');
    });

    it('the CRM unit wins over the base unit when configured', () => {
      assert.ok(board);
      const { materials } = resolveMaterials([board], withCrmUnits, new Map([erp('WL0003')]));
      assert.deepEqual(materials.get(board._id), { number: 'WL0003', unitNumber: 'Box' });
    });
  });
});

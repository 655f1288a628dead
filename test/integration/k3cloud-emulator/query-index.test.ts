/**
 * ExecuteBillQuery answers equality and IN filters on key fields from an index instead of scanning the
 * form: the answers must be exactly the scan's — same rows, same order, case-insensitive, current after
 * updates — and filters an index cannot answer (a number against a text field) still work.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import { type K3Result, Session, saleOrderModel, startEmulator } from './support.ts';

function customer(name: string, crmId: string): Record<string, unknown> {
  return {
    FCUSTID: 0,
    FName: name,
    FCreateOrgId: { FNumber: '100' },
    FTRADINGCURRID: { FNumber: 'PRE001' },
    FTaxRate: { FNumber: 'SL02_SYS' },
    F_FXK_CrmId: crmId,
  };
}

describe('k3cloud emulator: indexed ExecuteBillQuery', () => {
  let emulator: K3CloudEmulator;
  let session: Session;
  const ids: number[] = [];
  const numbers: string[] = [];

  before(async () => {
    emulator = await startEmulator();
    session = await Session.open(emulator.url);
    for (const [name, crmId] of [
      ['索引客户甲', 'idx-A'],
      ['索引客户乙', 'idx-B'],
      ['索引客户丙', '007'],
    ] as const) {
      const saved = (await session.save('BD_Customer', customer(name, crmId))) as K3Result;
      assert.equal(saved.Result.ResponseStatus.IsSuccess, true, JSON.stringify(saved));
      ids.push(saved.Result.Id ?? 0);
      numbers.push(saved.Result.Number ?? '');
    }
  });
  after(() => emulator.close());

  const q = (FilterString: string, FormId = 'BD_Customer', FieldKeys = 'FCUSTID,F_FXK_CrmId') =>
    session.query({ FormId, FieldKeys, FilterString });

  it('finds records by an extension field, case-insensitively, and by IN lists in store order', async () => {
    assert.deepEqual(await q("F_FXK_CrmId = 'IDX-a'"), [[ids[0], 'idx-A']]);
    assert.deepEqual(await q("F_FXK_CrmId in ('idx-b', 'idx-a', 'none')"), [
      [ids[0], 'idx-A'],
      [ids[1], 'idx-B'],
    ]);
    assert.deepEqual(await q(`FNumber in ('${numbers[2]}', '${numbers[0]}')`), [
      [ids[0], 'idx-A'],
      [ids[2], '007'],
    ]);
    assert.deepEqual(await q(`FCUSTID in (${ids[2]}, ${ids[1]}, 999999)`), [
      [ids[1], 'idx-B'],
      [ids[2], '007'],
    ]);
    assert.deepEqual(await q(`FCUSTID = '${ids[0]}' and F_FXK_CrmId = 'idx-A'`), [[ids[0], 'idx-A']]);
    assert.deepEqual(await q(`FCUSTID = '${ids[0]}' and F_FXK_CrmId = 'idx-B'`), []);
  });

  it('compares a number literal with a text field as SQL Server does (no index for that)', async () => {
    assert.deepEqual(await q('F_FXK_CrmId = 7'), [[ids[2], '007']]);
  });

  it('follows updates: the old value no longer finds the record, the new one does', async () => {
    const updated = (await session.save('BD_Customer', {
      FCUSTID: ids[1],
      F_FXK_CrmId: 'idx-B2',
    })) as K3Result;
    assert.equal(updated.Result.ResponseStatus.IsSuccess, true, JSON.stringify(updated));
    assert.deepEqual(await q("F_FXK_CrmId = 'idx-B'"), []);
    assert.deepEqual(await q("F_FXK_CrmId = 'idx-b2'"), [[ids[1], 'idx-B2']]);
    assert.deepEqual(await q("F_FXK_CrmId in ('idx-A', 'idx-B2')"), [
      [ids[0], 'idx-A'],
      [ids[1], 'idx-B2'],
    ]);
  });

  it('finds bills by an entry field, one row per matching entry row', async () => {
    const line = (saleOrderModel().FSaleOrderEntry as Record<string, unknown>[])[0] ?? {};
    const saved = (await session.save(
      'SAL_SaleOrder',
      saleOrderModel({
        FSaleOrderEntry: [
          { ...line, FEntryNote: 'idx-line' },
          { ...line, FEntryNote: 'other' },
          { ...line, FEntryNote: 'IDX-LINE' },
        ],
      }),
    )) as K3Result;
    assert.equal(saved.Result.ResponseStatus.IsSuccess, true, JSON.stringify(saved));
    const rows = await q("FEntryNote = 'idx-line'", 'SAL_SaleOrder', 'FID,FEntryNote');
    assert.deepEqual(rows, [
      [saved.Result.Id, 'idx-line'],
      [saved.Result.Id, 'IDX-LINE'],
    ]);
  });
});

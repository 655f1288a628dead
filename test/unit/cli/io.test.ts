/**
 * Human output: Chinese characters take two terminal columns, so tables mixing 客户 and "customer" must
 * be padded by display width; placeholders of records a dry run would create are shown readably.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Placeholders } from '../../../cli/dry-run-runtime.ts';
import {
  displayWidth,
  formatAge,
  formatTime,
  padDisplay,
  renderFields,
  renderTable,
} from '../../../cli/io.ts';

describe('displayWidth', () => {
  it('counts wide characters as two columns, ASCII as one, combining marks as none', () => {
    assert.equal(displayWidth('abc'), 3);
    assert.equal(displayWidth('客户'), 4);
    assert.equal(displayWidth('结果 Result'), 11);
    assert.equal(displayWidth('（）：'), 6);
    assert.equal(displayWidth('e\u0301'), 1);
    assert.equal(padDisplay('客户', 6), '客户  ');
  });
});

describe('renderTable', () => {
  it('aligns columns by display width', () => {
    const text = renderTable(
      ['流程 Flow', '结果 Result'],
      [
        ['account-to-customer', '✓ 正常 ok'],
        ['客户', '✗ 失败 FAILED'],
      ],
    );
    const lines = text.split('\n');
    assert.equal(lines.length, 4);
    const column = (line: string) =>
      displayWidth(line.slice(0, line.indexOf(line.includes('✓') ? '✓' : line.includes('✗') ? '✗' : '结果')));
    assert.equal(column(lines[0] ?? ''), column(lines[2] ?? ''));
    assert.equal(column(lines[2] ?? ''), column(lines[3] ?? ''));
  });

  it('keeps each row on one line', () => {
    assert.equal(renderTable(['a', 'b'], [['x', 'line one\nline two']]).split('\n').length, 3);
  });

  it('key/value lines are aligned', () => {
    const [a, b] = renderFields([
      ['记录 Records', '3'],
      ['页 Pages', '1'],
    ]).split('\n');
    assert.ok(a && b);
    assert.equal(displayWidth(a.slice(0, a.indexOf('3'))), displayWidth(b.slice(0, b.indexOf('1'))));
  });
});

describe('time formatting', () => {
  it('ISO time without milliseconds and a bilingual age', () => {
    assert.equal(formatTime(Date.parse('2026-11-23T12:00:00.123Z')), '2026-11-23T12:00:00Z');
    assert.equal(formatTime(undefined), '—');
    assert.equal(formatAge(1_000, 61_000), '60 秒前 / 60 s ago');
    assert.equal(formatAge(0, 3 * 3_600_000), '3 小时前 / 3 h ago');
  });
});

describe('Placeholders', () => {
  it('hands out fake ids far above real FIDs and shows them as placeholders, deeply', () => {
    const placeholders = new Placeholders();
    const customer = placeholders.issue('BD_Customer', undefined);
    const order = placeholders.issue('SAL_SaleOrder', 'XSDD000123');
    assert.ok(Number(customer.id) > 1e11);
    assert.equal(order.number, 'XSDD000123');
    assert.deepEqual(
      placeholders.reveal({
        Ids: `${customer.id},${order.id}`,
        PkIds: [Number(customer.id)],
        FCustId: { FNumber: customer.number },
        keep: 100234,
      }),
      {
        Ids: '<新建 new BD_Customer #1 FID>,<新建 new SAL_SaleOrder #2 FID>',
        PkIds: ['<新建 new BD_Customer #1 FID>'],
        FCustId: { FNumber: '<新建 new BD_Customer #1 编码 number>' },
        keep: 100234,
      },
    );
  });
});

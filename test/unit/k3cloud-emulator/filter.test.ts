import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFilter } from '../../../infra/local/k3cloud-emulator/query.ts';

describe('k3cloud emulator query: parseFilter', () => {
  it('parses the SDK health probe with its padding', () => {
    assert.deepEqual(parseFilter(" FNUMBER='PRE001' "), {
      t: 'cmp',
      op: '=',
      l: { t: 'field', key: 'FNUMBER' },
      r: { t: 'lit', v: 'PRE001' },
    });
  });

  it('gives and precedence over or, honours parentheses and not', () => {
    const expr = parseFilter("a = 1 or b = 2 and not (c = 'x' or d <> 'y')");
    assert.equal(expr.t, 'or');
    assert.ok(expr.t === 'or' && expr.b.t === 'and' && expr.b.b.t === 'not' && expr.b.b.e.t === 'or');
  });

  it("reads '' escapes, N'…' strings, negative and decimal numbers, dotted keys, != as <>", () => {
    assert.deepEqual(parseFilter("FNote = 'O''Brien'"), {
      t: 'cmp',
      op: '=',
      l: { t: 'field', key: 'FNote' },
      r: { t: 'lit', v: "O'Brien" },
    });
    assert.deepEqual(parseFilter("FCustId.FName = N'客户'"), {
      t: 'cmp',
      op: '=',
      l: { t: 'field', key: 'FCustId.FName' },
      r: { t: 'lit', v: '客户' },
    });
    const numbers = parseFilter('FQty >= -1.5 and FQty != 3');
    assert.ok(
      numbers.t === 'and' && numbers.a.t === 'cmp' && numbers.a.r.t === 'lit' && numbers.a.r.v === -1.5,
    );
    assert.ok(numbers.t === 'and' && numbers.b.t === 'cmp' && numbers.b.op === '<>');
  });

  it('parses like / not like, in / not in, is [not] null and between', () => {
    assert.equal(parseFilter("FNumber NOT LIKE 'C%'").t, 'like');
    const list = parseFilter("FDocumentStatus in ('A', 'B')");
    assert.ok(list.t === 'in' && list.list.length === 2 && !list.neg);
    const isNull = parseFilter('FNote is not null');
    assert.ok(isNull.t === 'null' && isNull.neg);
    assert.equal(parseFilter('FQty between 1 and 5').t, 'between');
    assert.deepEqual(parseFilter('   '), { t: 'true' });
  });

  it('throws SyntaxError for broken filters', () => {
    for (const text of [
      "FNote = 'open",
      'FNote =',
      '(a = 1',
      'a = 1)',
      'a = = 1',
      'a ; 1',
      'a is 1',
      'a not = 1',
    ]) {
      assert.throws(() => parseFilter(text), SyntaxError, text);
    }
  });
});

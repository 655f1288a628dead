import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTENT_HASH_VERSION, canonicalJson, contentHash } from '../../../lib/mappings/hash.ts';

describe('content hash', () => {
  describe('canonicalJson', () => {
    it('sorts keys at every depth and drops undefined members', () => {
      assert.equal(
        canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: undefined }, '1': true }),
        '{"1":true,"a":{"d":[2,{"x":2,"y":1}]},"b":1}',
      );
    });

    it('keeps array order, writes -0 as 0 and undefined array items as null', () => {
      assert.equal(canonicalJson([3, 1, -0, undefined, 'x']), '[3,1,0,null,"x"]');
    });

    it('refuses values JSON cannot carry faithfully', () => {
      assert.throws(() => canonicalJson({ a: Number.NaN }), TypeError);
      assert.throws(() => canonicalJson({ a: Number.POSITIVE_INFINITY }), TypeError);
      assert.throws(() => canonicalJson({ a: new Date(0) }), TypeError);
      assert.throws(() => canonicalJson({ a: () => 1 }), TypeError);
      assert.throws(() => canonicalJson({ a: 1n }), TypeError);
    });
  });

  describe('contentHash', () => {
    const payload = {
      formId: 'BD_Customer',
      content: { FName: '华东贸易', FCreateOrgId: { FNumber: '100' }, FPriority: 1, FISCREDITCHECK: true },
    };

    it('is a versioned sha256 of 64 hex digits', () => {
      assert.match(contentHash(payload), /^sha256:[0-9a-f]{64}$/);
      assert.equal(CONTENT_HASH_VERSION, 1);
    });

    it('does not depend on key order', () => {
      const reordered = {
        content: { FISCREDITCHECK: true, FPriority: 1, FCreateOrgId: { FNumber: '100' }, FName: '华东贸易' },
        formId: 'BD_Customer',
      };
      assert.equal(contentHash(reordered), contentHash(payload));
    });

    it('changes when any mapped value changes, including its type', () => {
      const base = contentHash(payload);
      const variants = [
        { ...payload, content: { ...payload.content, FName: '华东贸易 ' } },
        { ...payload, content: { ...payload.content, FCreateOrgId: { FNumber: '101' } } },
        { ...payload, content: { ...payload.content, FPriority: '1' } },
        { ...payload, content: { ...payload.content, FISCREDITCHECK: false } },
        { ...payload, content: { ...payload.content, FTEL: '021' } },
      ];
      const hashes = new Set(variants.map(contentHash));
      assert.equal(hashes.size, variants.length);
      assert.equal(hashes.has(base), false);
    });
  });
});

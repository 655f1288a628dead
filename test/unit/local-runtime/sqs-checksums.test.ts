import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  contentDeduplicationId,
  md5Hex,
  md5OfMessageAttributes,
} from '../../../infra/local/runtime/sqs/checksums.ts';

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

describe('sqs checksums', () => {
  describe('md5OfMessageAttributes', () => {
    it('hashes the documented layout: length-prefixed name, type, transport byte 1, length-prefixed value', () => {
      // Written out byte by byte from the SQS Developer Guide's description.
      const expected = md5(
        Buffer.concat([
          Buffer.from([0, 0, 0, 1]),
          Buffer.from('a'),
          Buffer.from([0, 0, 0, 6]),
          Buffer.from('String'),
          Buffer.from([1]),
          Buffer.from([0, 0, 0, 2]),
          Buffer.from('bc'),
        ]),
      );
      assert.equal(md5OfMessageAttributes({ a: { DataType: 'String', StringValue: 'bc' } }), expected);
    });

    it('sorts by name and uses transport byte 2 with raw bytes for Binary', () => {
      const expected = md5(
        Buffer.concat([
          Buffer.from([0, 0, 0, 1]),
          Buffer.from('a'),
          Buffer.from([0, 0, 0, 6]),
          Buffer.from('Binary'),
          Buffer.from([2]),
          Buffer.from([0, 0, 0, 3]),
          Buffer.from([1, 2, 3]),
          Buffer.from([0, 0, 0, 1]),
          Buffer.from('z'),
          Buffer.from([0, 0, 0, 6]),
          Buffer.from('Number'),
          Buffer.from([1]),
          Buffer.from([0, 0, 0, 1]),
          Buffer.from('7'),
        ]),
      );
      const actual = md5OfMessageAttributes({
        z: { DataType: 'Number', StringValue: '7' },
        a: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2, 3]).toString('base64') },
      });
      assert.equal(actual, expected);
    });

    it('is undefined without attributes (SQS omits the field)', () => {
      assert.equal(md5OfMessageAttributes({}), undefined);
    });
  });

  it('md5Hex hashes the UTF-8 body; content dedupe ids are SHA-256 of the body', () => {
    assert.equal(md5Hex('世界'), createHash('md5').update(Buffer.from('世界', 'utf8')).digest('hex'));
    assert.equal(contentDeduplicationId('x'), createHash('sha256').update('x').digest('hex'));
  });
});

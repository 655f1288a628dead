/**
 * The MD5 digests SQS returns with every message. The AWS SDK checks `MD5OfMessageBody` / `MD5OfBody` on
 * SendMessage(Batch) and ReceiveMessage and throws on a mismatch, so these must be exact.
 *
 * Message attributes are hashed as SQS documents it ("Calculating the MD5 message digest for message
 * attributes", SQS Developer Guide): attributes sorted by name; for each, the name, the data type and the
 * value each as a 4-byte big-endian length followed by the UTF-8 bytes, with one transport byte (1 = String
 * or Number, 2 = Binary) before the value.
 */
import { createHash } from 'node:crypto';

/** A message attribute on the JSON wire (`BinaryValue` is Base64). */
export interface WireMessageAttribute {
  DataType: string;
  StringValue?: string | undefined;
  BinaryValue?: string | undefined;
}

export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}

/** MD5 of a set of message attributes, or undefined when there are none (SQS then omits the field). */
export function md5OfMessageAttributes(
  attributes: Readonly<Record<string, WireMessageAttribute>>,
): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const hash = createHash('md5');
  for (const name of names) {
    const attribute = attributes[name];
    if (!attribute) continue;
    hash.update(lengthPrefixed(Buffer.from(name, 'utf8')));
    hash.update(lengthPrefixed(Buffer.from(attribute.DataType, 'utf8')));
    if (attribute.BinaryValue !== undefined && attribute.DataType.startsWith('Binary')) {
      hash.update(Buffer.from([2]));
      hash.update(lengthPrefixed(Buffer.from(attribute.BinaryValue, 'base64')));
    } else {
      hash.update(Buffer.from([1]));
      hash.update(lengthPrefixed(Buffer.from(attribute.StringValue ?? '', 'utf8')));
    }
  }
  return hash.digest('hex');
}

/** SHA-256 of the body: the content-based deduplication id of FIFO queues. */
export function contentDeduplicationId(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/**
 * The system attributes of a received message (`ApproximateReceiveCount`, `SentTimestamp`, `MessageGroupId`,
 * …), as ReceiveMessage returns them and as Lambda puts them in an SQS event record's `attributes`.
 */
import type { ReceivedMessage } from './queue-engine.ts';

const SYSTEM_ATTRIBUTE_NAMES = [
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
] as const;

/** Every system attribute a message has (the set Lambda's SQS event carries). */
export function systemAttributesOf(received: ReceivedMessage): Record<string, string> {
  const m = received.message;
  const all: Record<string, string | undefined> = {
    SenderId: m.senderId,
    SentTimestamp: String(m.sentAtMs),
    ApproximateReceiveCount: String(m.receiveCount),
    ApproximateFirstReceiveTimestamp:
      m.firstReceiveAtMs === undefined ? undefined : String(m.firstReceiveAtMs),
    SequenceNumber: m.sequenceNumber,
    MessageDeduplicationId: m.dedupId,
    MessageGroupId: m.groupId,
    AWSTraceHeader: m.systemAttributes.AWSTraceHeader?.StringValue,
    DeadLetterQueueSourceArn: m.deadLetterSourceArn,
  };
  const out: Record<string, string> = {};
  for (const name of SYSTEM_ATTRIBUTE_NAMES) {
    const value = all[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

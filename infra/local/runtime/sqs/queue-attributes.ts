/**
 * Queue attributes, as CreateQueue/SetQueueAttributes take them (strings) and as CloudFormation's
 * `AWS::SQS::Queue` properties write them (numbers, booleans, a RedrivePolicy object), to and from the
 * engine's typed {@link QueueSettings}. Ranges are the SQS API Reference's.
 */
import type { QueueCounts, QueueInfo } from './queue-engine.ts';
import type { QueueSettings } from './queue-journal.ts';
import { SqsApiError } from './sqs-errors.ts';

type IntegerSetting =
  | 'visibilityTimeoutSec'
  | 'messageRetentionSec'
  | 'delaySec'
  | 'receiveMessageWaitTimeSec'
  | 'maximumMessageSize';

const INTEGER_RANGES = new Map<string, readonly [IntegerSetting, number, number]>([
  ['VisibilityTimeout', ['visibilityTimeoutSec', 0, 43_200]],
  ['MessageRetentionPeriod', ['messageRetentionSec', 60, 1_209_600]],
  ['DelaySeconds', ['delaySec', 0, 900]],
  ['ReceiveMessageWaitTimeSeconds', ['receiveMessageWaitTimeSec', 0, 20]],
  ['MaximumMessageSize', ['maximumMessageSize', 1_024, 1_048_576]],
]);

/** Accepted and kept out of the local semantics (encryption and access policies do not apply locally). */
const ACCEPTED_WITHOUT_EFFECT = new Set([
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
  'Policy',
  'RedriveAllowPolicy',
]);

function invalidValue(name: string, value: unknown, reason: string): SqsApiError {
  return new SqsApiError(
    'InvalidAttributeValue',
    `Invalid value for the parameter ${name} (${String(value)}): ${reason}`,
  );
}

function toInteger(name: string, value: unknown, min: number, max: number): number {
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  if (!Number.isInteger(number) || number < min || number > max) {
    throw invalidValue(name, value, `must be an integer from ${min} to ${max}`);
  }
  return number;
}

function toBoolean(name: string, value: unknown): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw invalidValue(name, value, 'must be true or false');
}

function toRedrivePolicy(value: unknown): QueueSettings['redrivePolicy'] {
  let policy: unknown = value;
  if (typeof value === 'string') {
    try {
      policy = JSON.parse(value);
    } catch {
      throw invalidValue('RedrivePolicy', value, 'must be JSON');
    }
  }
  if (typeof policy !== 'object' || policy === null)
    throw invalidValue('RedrivePolicy', value, 'must be an object');
  const arn = 'deadLetterTargetArn' in policy ? policy.deadLetterTargetArn : undefined;
  const count = 'maxReceiveCount' in policy ? policy.maxReceiveCount : undefined;
  if (typeof arn !== 'string' || !arn.startsWith('arn:')) {
    throw invalidValue('RedrivePolicy', JSON.stringify(policy), 'deadLetterTargetArn must be a queue ARN');
  }
  return {
    deadLetterTargetArn: arn,
    maxReceiveCount: toInteger('RedrivePolicy.maxReceiveCount', count, 1, 1_000),
  };
}

/**
 * Apply attributes to settings (defaults for CreateQueue, the current ones for SetQueueAttributes).
 *
 * @throws {SqsApiError} InvalidAttributeName for an unknown attribute, InvalidAttributeValue for a bad value.
 */
export function applyQueueAttributes(
  base: QueueSettings,
  attributes: Readonly<Record<string, unknown>>,
): QueueSettings {
  const settings: QueueSettings = { ...base };
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    const range = INTEGER_RANGES.get(name);
    if (range) {
      const [key, min, max] = range;
      settings[key] = toInteger(name, value, min, max);
    } else if (name === 'FifoQueue') {
      settings.fifo = toBoolean(name, value);
    } else if (name === 'ContentBasedDeduplication') {
      settings.contentBasedDeduplication = toBoolean(name, value);
    } else if (name === 'DeduplicationScope') {
      if (value !== 'queue' && value !== 'messageGroup')
        throw invalidValue(name, value, 'must be queue or messageGroup');
      settings.deduplicationScope = value;
    } else if (name === 'FifoThroughputLimit') {
      if (value !== 'perQueue' && value !== 'perMessageGroupId') {
        throw invalidValue(name, value, 'must be perQueue or perMessageGroupId');
      }
      settings.fifoThroughputLimit = value;
    } else if (name === 'RedrivePolicy') {
      if (value === '' || value === null) delete settings.redrivePolicy;
      else settings.redrivePolicy = toRedrivePolicy(value);
    } else if (!ACCEPTED_WITHOUT_EFFECT.has(name)) {
      throw new SqsApiError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
  }
  if (!settings.fifo && (settings.contentBasedDeduplication || attributes.DeduplicationScope !== undefined)) {
    throw new SqsApiError('InvalidAttributeName', 'Unknown Attribute ContentBasedDeduplication.');
  }
  return settings;
}

export const ALL_QUEUE_ATTRIBUTE_NAMES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'DelaySeconds',
  'ReceiveMessageWaitTimeSeconds',
  'MaximumMessageSize',
  'RedrivePolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'SqsManagedSseEnabled',
] as const;

/**
 * GetQueueAttributes' answer for the requested names (`All` = every one).
 *
 * @throws {SqsApiError} InvalidAttributeName for a name SQS does not know.
 */
export function queueAttributesOf(
  info: QueueInfo,
  counts: QueueCounts,
  requested: readonly string[],
): Record<string, string> {
  const s = info.settings;
  const values: Record<string, string | undefined> = {
    ApproximateNumberOfMessages: String(counts.visible),
    ApproximateNumberOfMessagesNotVisible: String(counts.inFlight),
    ApproximateNumberOfMessagesDelayed: String(counts.delayed),
    CreatedTimestamp: String(Math.floor(info.createdAtMs / 1000)),
    LastModifiedTimestamp: String(Math.floor(info.lastModifiedAtMs / 1000)),
    QueueArn: info.arn,
    VisibilityTimeout: String(s.visibilityTimeoutSec),
    MessageRetentionPeriod: String(s.messageRetentionSec),
    DelaySeconds: String(s.delaySec),
    ReceiveMessageWaitTimeSeconds: String(s.receiveMessageWaitTimeSec),
    MaximumMessageSize: String(s.maximumMessageSize),
    RedrivePolicy: s.redrivePolicy ? JSON.stringify(s.redrivePolicy) : undefined,
    FifoQueue: s.fifo ? 'true' : undefined,
    ContentBasedDeduplication: s.fifo ? String(s.contentBasedDeduplication) : undefined,
    DeduplicationScope: s.fifo ? s.deduplicationScope : undefined,
    FifoThroughputLimit: s.fifo ? s.fifoThroughputLimit : undefined,
    SqsManagedSseEnabled: 'false',
  };
  const names = requested.includes('All') ? ALL_QUEUE_ATTRIBUTE_NAMES : requested;
  const out: Record<string, string> = {};
  for (const name of names) {
    if (!(name in values)) throw new SqsApiError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    const value = values[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

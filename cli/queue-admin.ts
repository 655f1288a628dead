/**
 * The SQS side of operations: queue depths (with the dead-letter queue each queue's redrive policy names),
 * and moving dead letters back to their queue.
 *
 * Redrive is receive → send → delete rather than `StartMessageMoveTask`: the local SQS service does not
 * implement the move task, and doing it ourselves keeps control over what matters for FIFO queues — each
 * message keeps its `MessageGroupId` (one CRM record's events stay in order) and gets a deduplication id that
 * is new for this replay run (`redrive-<run>-<original message id>`), so SQS does not drop it as a repeat of
 * the original send, while a retry of the same run within SQS's 5-minute window is dropped. A crash between
 * send and delete leaves a copy in the DLQ; sending it again is harmless because every flow looks records up
 * (links, external keys, source bills) before writing — never a duplicate ERP record.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { QueueError } from '../lib/sync/queues.ts';

/** Receives / sends / deletes take at most 10 entries. */
const SQS_BATCH_MAX = 10;
/** How long received dead letters stay hidden while we move (or list) them. */
const MOVE_VISIBILITY_SECONDS = 120;

/**
 * An SQS failure in the project's error model: refused (denied, missing queue) is `config`, the rest
 * `transient`; the service's own text is kept verbatim.
 */
export function sqsFailure(error: unknown, what: string): QueueError {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const refused = [
    'AccessDenied',
    'AccessDeniedException',
    'QueueDoesNotExist',
    'AWS.SimpleQueueService.NonExistentQueue',
    'InvalidAddress',
    'CredentialsProviderError',
    'UnrecognizedClientException',
    'InvalidClientTokenId',
  ].includes(name);
  return new QueueError(`SQS 调用失败（${what}）/ SQS call failed (${what}): ${name}`, {
    kind: refused ? 'config' : 'transient',
    fault: refused ? 'ours' : 'theirs',
    code: name === 'QueueDoesNotExist' ? 'SQS_QUEUE_NOT_FOUND' : refused ? 'SQS_REFUSED' : 'SQS_UNAVAILABLE',
    remoteMessages: message ? [message] : [],
    cause: error,
  });
}

export interface QueueCounts {
  visible: number;
  inFlight: number;
  delayed: number;
}

export interface QueueInfo extends QueueCounts {
  name: string;
  url: string;
  /** The dead-letter queue named by the redrive policy, if any. */
  deadLetter: { arn: string; maxReceiveCount: number } | undefined;
}

const redrivePolicySchema = z.object({
  deadLetterTargetArn: z.string(),
  maxReceiveCount: z.coerce.number(),
});

/** The queue's name: the last segment of its URL. */
export function queueNameOfUrl(url: string): string {
  return url.split('/').at(-1) ?? url;
}

/**
 * Depths and redrive policy of a queue (`GetQueueAttributes`).
 *
 * @throws {QueueError} when SQS refuses or cannot be reached.
 */
export async function queueInfo(sqs: SQSClient, url: string): Promise<QueueInfo> {
  let attributes: Record<string, string>;
  try {
    const out = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
          'RedrivePolicy',
        ],
      }),
    );
    attributes = out.Attributes ?? {};
  } catch (error) {
    throw sqsFailure(error, `GetQueueAttributes ${queueNameOfUrl(url)}`);
  }
  const count = (name: string) => {
    const n = Number(attributes[name]);
    return Number.isFinite(n) ? n : 0;
  };
  let deadLetter: QueueInfo['deadLetter'];
  const policyText = attributes.RedrivePolicy;
  if (policyText) {
    try {
      const policy = redrivePolicySchema.parse(JSON.parse(policyText));
      deadLetter = { arn: policy.deadLetterTargetArn, maxReceiveCount: policy.maxReceiveCount };
    } catch {
      deadLetter = undefined;
    }
  }
  return {
    name: queueNameOfUrl(url),
    url,
    visible: count('ApproximateNumberOfMessages'),
    inFlight: count('ApproximateNumberOfMessagesNotVisible'),
    delayed: count('ApproximateNumberOfMessagesDelayed'),
    deadLetter,
  };
}

/**
 * The URL of the queue an ARN names (`arn:aws:sqs:<region>:<account>:<name>`).
 *
 * @throws {QueueError} when it does not exist or SQS refuses.
 */
export async function queueUrlOfArn(sqs: SQSClient, arn: string): Promise<string> {
  const [, , , , account, name] = arn.split(':');
  if (!name) {
    throw new QueueError(`不是 SQS 队列 ARN / not an SQS queue ARN: ${arn}`, {
      kind: 'config',
      fault: 'ours',
      code: 'SQS_BAD_ARN',
    });
  }
  try {
    const out = await sqs.send(
      new GetQueueUrlCommand({ QueueName: name, ...(account ? { QueueOwnerAWSAccountId: account } : {}) }),
    );
    if (!out.QueueUrl) throw new Error(`no QueueUrl for ${name}`);
    return out.QueueUrl;
  } catch (error) {
    throw sqsFailure(error, `GetQueueUrl ${name}`);
  }
}

/** One dead letter as the CLI shows it. */
export interface DeadLetter {
  messageId: string;
  groupId: string | undefined;
  receiveCount: number | undefined;
  sentAtMs: number | undefined;
  body: string;
}

export interface RedriveOptions {
  /** The dead-letter queue. */
  from: string;
  /** The queue the messages go back to. */
  to: string;
  /** Unique per replay run: part of every deduplication id. */
  runId: string;
  limit: number;
  /** List only: the messages are made visible again at once. */
  dryRun: boolean;
  waitSeconds: number;
  /** Called after each batch (progress). */
  onBatch?: (moved: number) => void;
}

export interface RedriveResult {
  messages: DeadLetter[];
  /** Moved back (not counted in a dry run). */
  moved: number;
}

function toDeadLetter(message: Message): DeadLetter {
  const attributes = message.Attributes ?? {};
  const number = (text: string | undefined) => {
    const n = Number(text);
    return text !== undefined && Number.isFinite(n) ? n : undefined;
  };
  return {
    messageId: message.MessageId ?? '',
    groupId: attributes.MessageGroupId,
    receiveCount: number(attributes.ApproximateReceiveCount),
    sentAtMs: number(attributes.SentTimestamp),
    body: message.Body ?? '',
  };
}

/** FIFO deduplication ids: ≤ 128 characters of `[A-Za-z0-9!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~]`. */
function deduplicationId(runId: string, messageId: string): string {
  return `redrive-${runId}-${messageId}`.replace(/[^A-Za-z0-9!-~]/g, '_').slice(0, 128);
}

/**
 * Move (or, with `dryRun`, list) the messages of a dead-letter queue back to its queue (module comment).
 * Stops when a receive comes back empty or `limit` messages were handled.
 *
 * @throws {QueueError} when SQS fails; the messages moved until then stay moved, the rest stay in the DLQ.
 */
export async function redrive(sqs: SQSClient, options: RedriveOptions): Promise<RedriveResult> {
  const handled: DeadLetter[] = [];
  const toRelease: string[] = [];
  let moved = 0;
  try {
    while (handled.length < options.limit) {
      let received: Message[];
      try {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.from,
            MaxNumberOfMessages: Math.min(SQS_BATCH_MAX, options.limit - handled.length),
            VisibilityTimeout: MOVE_VISIBILITY_SECONDS,
            WaitTimeSeconds: options.waitSeconds,
            MessageSystemAttributeNames: ['MessageGroupId', 'ApproximateReceiveCount', 'SentTimestamp'],
            MessageAttributeNames: ['All'],
          }),
        );
        received = out.Messages ?? [];
      } catch (error) {
        throw sqsFailure(error, `ReceiveMessage ${queueNameOfUrl(options.from)}`);
      }
      if (received.length === 0) break;
      const letters = received.map(toDeadLetter);
      handled.push(...letters);
      if (options.dryRun) {
        for (const message of received) if (message.ReceiptHandle) toRelease.push(message.ReceiptHandle);
        continue;
      }
      let sentIds: Set<string>;
      try {
        const out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: options.to,
            Entries: received.map((message, index) => ({
              Id: String(index),
              MessageBody: message.Body ?? '',
              ...(message.MessageAttributes && Object.keys(message.MessageAttributes).length > 0
                ? { MessageAttributes: message.MessageAttributes }
                : {}),
              ...(message.Attributes?.MessageGroupId
                ? {
                    MessageGroupId: message.Attributes.MessageGroupId,
                    MessageDeduplicationId: deduplicationId(
                      options.runId,
                      message.MessageId ?? String(index),
                    ),
                  }
                : {}),
            })),
          }),
        );
        sentIds = new Set((out.Successful ?? []).map((entry) => entry.Id ?? ''));
        const failed = out.Failed ?? [];
        if (failed.length > 0) {
          const first = failed[0];
          throw new QueueError(
            `SQS 拒收 ${failed.length} 条重放消息 / SQS refused ${failed.length} redriven message(s)`,
            {
              kind: 'transient',
              fault: 'theirs',
              code: 'SQS_PARTIAL_FAILURE',
              remoteMessages: [`${first?.Code ?? ''} ${first?.Message ?? ''}`.trim()],
            },
          );
        }
      } catch (error) {
        throw error instanceof QueueError
          ? error
          : sqsFailure(error, `SendMessageBatch ${queueNameOfUrl(options.to)}`);
      }
      // Only what is safely on the queue leaves the DLQ.
      const deletions = received.flatMap((message, index) =>
        sentIds.has(String(index)) && message.ReceiptHandle
          ? [{ Id: String(index), ReceiptHandle: message.ReceiptHandle }]
          : [],
      );
      try {
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: options.from, Entries: deletions }));
      } catch (error) {
        throw sqsFailure(error, `DeleteMessageBatch ${queueNameOfUrl(options.from)}`);
      }
      moved += deletions.length;
      options.onBatch?.(moved);
    }
  } finally {
    // A listing leaves the messages where they were, visible again at once.
    for (let start = 0; start < toRelease.length; start += SQS_BATCH_MAX) {
      const part = toRelease.slice(start, start + SQS_BATCH_MAX);
      await sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: options.from,
            Entries: part.map((receiptHandle, index) => ({
              Id: String(index),
              ReceiptHandle: receiptHandle,
              VisibilityTimeout: 0,
            })),
          }),
        )
        .catch(() => undefined);
    }
  }
  return { messages: handled, moved };
}

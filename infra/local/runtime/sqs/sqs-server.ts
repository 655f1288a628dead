/**
 * The local queue service over HTTP, speaking the protocol the AWS SDK v3 SQS client speaks: AWS JSON 1.0,
 * `POST /` with `X-Amz-Target: AmazonSQS.<Operation>` and `Content-Type: application/x-amz-json-1.0`; answers
 * in the same content type, errors as `{"__type":"com.amazonaws.sqs#<Shape>","message":…}` plus the
 * `x-amzn-query-error` header (see `sqs-errors.ts`). Signatures are not checked (any fake credentials do).
 *
 * Handlers reach it through the SDK's standard `AWS_ENDPOINT_URL_SQS` and the queue URLs in their
 * environment, which point here; nothing in the handlers knows it is local.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { type Logger, silentLogger } from '../../../../lib/log.ts';
import { BodyTooLargeError, closeServer, listen, readBody } from '../http-util.ts';
import { md5OfMessageAttributes, type WireMessageAttribute } from './checksums.ts';
import { applyQueueAttributes, queueAttributesOf } from './queue-attributes.ts';
import {
  DEFAULT_QUEUE_SETTINGS,
  MAX_WAIT_TIME_SEC,
  type QueueEngine,
  type ReceivedMessage,
  type SendInput,
  type SendResult,
} from './queue-engine.ts';
import { SqsApiError } from './sqs-errors.ts';
import { systemAttributesOf } from './system-attributes.ts';

const JSON_1_0 = 'application/x-amz-json-1.0';
/** SQS allows 1 MiB per message and per batch; JSON and Base64 add overhead. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const MAX_BATCH_PAYLOAD_BYTES = 1_048_576;

const messageAttribute = z.object({
  DataType: z.string().min(1),
  StringValue: z.string().optional(),
  BinaryValue: z.string().optional(),
  StringListValues: z.array(z.string()).optional(),
  BinaryListValues: z.array(z.string()).optional(),
});
const attributeMap = z.record(z.string(), messageAttribute).optional();
const queueUrl = z.string({ error: 'required' }).min(1);

const sendFields = {
  MessageBody: z.string({ error: 'required' }),
  DelaySeconds: z.number().int().optional(),
  MessageAttributes: attributeMap,
  MessageSystemAttributes: attributeMap,
  MessageDeduplicationId: z.string().optional(),
  MessageGroupId: z.string().optional(),
};
const batchEntryId = z.string({ error: 'required' });

const schemas = {
  CreateQueue: z.object({
    QueueName: z.string({ error: 'required' }),
    Attributes: z.record(z.string(), z.string()).optional(),
    tags: z.record(z.string(), z.string()).optional(),
  }),
  GetQueueUrl: z.object({
    QueueName: z.string({ error: 'required' }),
    QueueOwnerAWSAccountId: z.string().optional(),
  }),
  GetQueueAttributes: z.object({ QueueUrl: queueUrl, AttributeNames: z.array(z.string()).optional() }),
  SetQueueAttributes: z.object({ QueueUrl: queueUrl, Attributes: z.record(z.string(), z.string()) }),
  ListQueues: z.object({
    QueueNamePrefix: z.string().optional(),
    MaxResults: z.number().int().min(1).max(1000).optional(),
    NextToken: z.string().optional(),
  }),
  SendMessage: z.object({ QueueUrl: queueUrl, ...sendFields }),
  SendMessageBatch: z.object({
    QueueUrl: queueUrl,
    Entries: z.array(z.object({ Id: batchEntryId, ...sendFields })),
  }),
  ReceiveMessage: z.object({
    QueueUrl: queueUrl,
    AttributeNames: z.array(z.string()).optional(),
    MessageSystemAttributeNames: z.array(z.string()).optional(),
    MessageAttributeNames: z.array(z.string()).optional(),
    MaxNumberOfMessages: z.number().int().optional(),
    VisibilityTimeout: z.number().int().optional(),
    WaitTimeSeconds: z.number().int().optional(),
    ReceiveRequestAttemptId: z.string().optional(),
  }),
  DeleteMessage: z.object({ QueueUrl: queueUrl, ReceiptHandle: z.string({ error: 'required' }) }),
  DeleteMessageBatch: z.object({
    QueueUrl: queueUrl,
    Entries: z.array(z.object({ Id: batchEntryId, ReceiptHandle: z.string({ error: 'required' }) })),
  }),
  ChangeMessageVisibility: z.object({
    QueueUrl: queueUrl,
    ReceiptHandle: z.string({ error: 'required' }),
    VisibilityTimeout: z.number({ error: 'required' }).int(),
  }),
  ChangeMessageVisibilityBatch: z.object({
    QueueUrl: queueUrl,
    Entries: z.array(
      z.object({
        Id: batchEntryId,
        ReceiptHandle: z.string({ error: 'required' }),
        VisibilityTimeout: z.number({ error: 'required' }).int(),
      }),
    ),
  }),
  PurgeQueue: z.object({ QueueUrl: queueUrl }),
} as const;

type Operation = keyof typeof schemas;

function isOperation(name: string): name is Operation {
  return Object.hasOwn(schemas, name);
}

/** zod's first problem, as SQS would word it. */
function parseInput<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || '(body)';
  if (issue?.code === 'invalid_type' && issue.message === 'required') {
    throw new SqsApiError('MissingParameter', `The request must contain the parameter ${field}.`);
  }
  throw new SqsApiError(
    'InvalidParameterValue',
    `Value for parameter ${field} is invalid. Reason: ${issue?.message ?? 'invalid'}.`,
  );
}

function wireAttributes(
  attributes: Record<string, z.output<typeof messageAttribute>> | undefined,
): Record<string, WireMessageAttribute> | undefined {
  if (!attributes) return undefined;
  const out: Record<string, WireMessageAttribute> = {};
  for (const [name, value] of Object.entries(attributes)) {
    if (value.StringListValues?.length || value.BinaryListValues?.length) {
      // Reserved by SQS ("not implemented"); the real service refuses them too.
      throw new SqsApiError(
        'InvalidParameterValue',
        `Message attribute list values in ${name} are not supported.`,
      );
    }
    out[name] = {
      DataType: value.DataType,
      ...(value.StringValue === undefined ? {} : { StringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { BinaryValue: value.BinaryValue }),
    };
  }
  return out;
}

function sendInput(
  entry: z.output<typeof schemas.SendMessage> | z.output<typeof schemas.SendMessageBatch>['Entries'][number],
): SendInput {
  return {
    body: entry.MessageBody,
    delaySec: entry.DelaySeconds,
    messageAttributes: wireAttributes(entry.MessageAttributes),
    systemAttributes: wireAttributes(entry.MessageSystemAttributes),
    groupId: entry.MessageGroupId,
    dedupId: entry.MessageDeduplicationId,
  };
}

function sendReply(result: SendResult): Record<string, string> {
  return {
    MessageId: result.messageId,
    MD5OfMessageBody: result.md5OfBody,
    ...(result.md5OfMessageAttributes ? { MD5OfMessageAttributes: result.md5OfMessageAttributes } : {}),
    ...(result.md5OfMessageSystemAttributes
      ? { MD5OfMessageSystemAttributes: result.md5OfMessageSystemAttributes }
      : {}),
    ...(result.sequenceNumber ? { SequenceNumber: result.sequenceNumber } : {}),
  };
}

/** Batch rules shared by the three batch operations (ids distinct, 1–10 entries, `[A-Za-z0-9_-]{1,80}`). */
function checkBatch(entries: readonly { Id: string }[]): void {
  if (entries.length === 0)
    throw new SqsApiError('EmptyBatchRequest', 'There should be at least one entry in the request.');
  if (entries.length > 10) {
    throw new SqsApiError(
      'TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are 10. You have sent ${entries.length}.`,
    );
  }
  const seen = new Set<string>();
  for (const { Id } of entries) {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(Id)) {
      throw new SqsApiError(
        'InvalidBatchEntryId',
        'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
      );
    }
    if (seen.has(Id)) throw new SqsApiError('BatchEntryIdsNotDistinct', `Id ${Id} repeated.`);
    seen.add(Id);
  }
}

function failedEntry(id: string, error: SqsApiError): Record<string, unknown> {
  return { Id: id, SenderFault: error.status < 500, Code: error.type, Message: error.message };
}

function selectSystemAttributes(
  received: ReceivedMessage,
  names: readonly string[],
): Record<string, string> | undefined {
  if (names.length === 0) return undefined;
  const all = systemAttributesOf(received);
  if (names.includes('All')) return all;
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = all[name];
    if (value !== undefined) out[name] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function selectMessageAttributes(
  attributes: Readonly<Record<string, WireMessageAttribute>>,
  names: readonly string[],
): Record<string, WireMessageAttribute> {
  const out: Record<string, WireMessageAttribute> = {};
  for (const [name, value] of Object.entries(attributes)) {
    const wanted = names.some(
      (pattern) =>
        pattern === 'All' ||
        pattern === '.*' ||
        pattern === name ||
        (pattern.endsWith('.*') && name.startsWith(pattern.slice(0, -1))),
    );
    if (wanted) out[name] = value;
  }
  return out;
}

export interface SqsServerOptions {
  engine: QueueEngine;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  logger?: Logger;
}

export interface SqsServer {
  /** `http://127.0.0.1:<port>` — the value for `AWS_ENDPOINT_URL_SQS`. */
  readonly url: string;
  readonly port: number;
  /** Stop listening; long polls in progress are answered with no messages. */
  close(): Promise<void>;
}

/**
 * Start the HTTP front of `engine` and make the engine build its queue URLs on this server's origin.
 *
 * @throws Error when the port cannot be bound.
 */
export async function startSqsServer(options: SqsServerOptions): Promise<SqsServer> {
  const { engine } = options;
  const logger = options.logger ?? silentLogger;
  const polls = new Set<AbortController>();

  async function dispatch(operation: Operation, body: unknown, request: IncomingMessage): Promise<unknown> {
    switch (operation) {
      case 'CreateQueue': {
        const input = parseInput(schemas.CreateQueue, body);
        const settings = applyQueueAttributes(DEFAULT_QUEUE_SETTINGS, input.Attributes ?? {});
        const info = engine.createQueue(input.QueueName, settings);
        return { QueueUrl: engine.queueUrl(info.name) };
      }
      case 'GetQueueUrl': {
        const input = parseInput(schemas.GetQueueUrl, body);
        return { QueueUrl: engine.queueUrl(engine.queueInfo(input.QueueName).name) };
      }
      case 'GetQueueAttributes': {
        const input = parseInput(schemas.GetQueueAttributes, body);
        const name = engine.nameFromUrl(input.QueueUrl);
        const names = input.AttributeNames ?? [];
        if (names.length === 0) return {};
        return { Attributes: queueAttributesOf(engine.queueInfo(name), engine.counts(name), names) };
      }
      case 'SetQueueAttributes': {
        const input = parseInput(schemas.SetQueueAttributes, body);
        const name = engine.nameFromUrl(input.QueueUrl);
        engine.updateQueue(name, applyQueueAttributes(engine.queueInfo(name).settings, input.Attributes));
        return {};
      }
      case 'ListQueues': {
        const input = parseInput(schemas.ListQueues, body);
        const all = engine.listQueues(input.QueueNamePrefix ?? '').map((q) => engine.queueUrl(q.name));
        const start = input.NextToken === undefined ? 0 : Number(input.NextToken);
        if (!Number.isInteger(start) || start < 0) {
          throw new SqsApiError('InvalidParameterValue', 'Invalid NextToken value.');
        }
        const max = input.MaxResults ?? 1000;
        const page = all.slice(start, start + max);
        return {
          ...(page.length > 0 ? { QueueUrls: page } : {}),
          ...(input.MaxResults !== undefined && start + max < all.length
            ? { NextToken: String(start + max) }
            : {}),
        };
      }
      case 'SendMessage': {
        const input = parseInput(schemas.SendMessage, body);
        const name = engine.nameFromUrl(input.QueueUrl);
        return sendReply(engine.send(name, sendInput(input)));
      }
      case 'SendMessageBatch': {
        const input = parseInput(schemas.SendMessageBatch, body);
        const name = engine.nameFromUrl(input.QueueUrl);
        checkBatch(input.Entries);
        const total = input.Entries.reduce((sum, e) => sum + Buffer.byteLength(e.MessageBody), 0);
        if (total > MAX_BATCH_PAYLOAD_BYTES) {
          throw new SqsApiError(
            'BatchRequestTooLong',
            `Batch requests cannot be longer than ${MAX_BATCH_PAYLOAD_BYTES} bytes.`,
          );
        }
        const inputs: SendInput[] = [];
        const early = new Map<number, SqsApiError>();
        input.Entries.forEach((entry, index) => {
          try {
            inputs.push(sendInput(entry));
          } catch (error) {
            if (!(error instanceof SqsApiError)) throw error;
            early.set(index, error);
          }
        });
        const results = engine.sendMany(name, inputs);
        const successful: Record<string, string>[] = [];
        const failed: Record<string, unknown>[] = [];
        let next = 0;
        input.Entries.forEach((entry, index) => {
          const problem = early.get(index);
          if (problem) {
            failed.push(failedEntry(entry.Id, problem));
            return;
          }
          const result = results[next++];
          if (result instanceof SqsApiError) failed.push(failedEntry(entry.Id, result));
          else if (result) successful.push({ Id: entry.Id, ...sendReply(result) });
        });
        return { Successful: successful, Failed: failed };
      }
      case 'ReceiveMessage': {
        const input = parseInput(schemas.ReceiveMessage, body);
        const name = engine.nameFromUrl(input.QueueUrl);
        const waitSec = input.WaitTimeSeconds ?? engine.queueInfo(name).settings.receiveMessageWaitTimeSec;
        if (waitSec < 0 || waitSec > MAX_WAIT_TIME_SEC) {
          throw new SqsApiError(
            'InvalidParameterValue',
            `Value ${waitSec} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`,
          );
        }
        if (
          input.VisibilityTimeout !== undefined &&
          (input.VisibilityTimeout < 0 || input.VisibilityTimeout > 43_200)
        ) {
          throw new SqsApiError(
            'InvalidParameterValue',
            `Value ${input.VisibilityTimeout} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.`,
          );
        }
        const controller = new AbortController();
        polls.add(controller);
        const onClose = (): void => controller.abort();
        request.socket.once('close', onClose);
        let received: ReceivedMessage[];
        try {
          received = await engine.receive(name, {
            maxMessages: input.MaxNumberOfMessages ?? 1,
            visibilityTimeoutSec: input.VisibilityTimeout,
            waitTimeMs: waitSec * 1000,
            attemptId: input.ReceiveRequestAttemptId,
            signal: controller.signal,
          });
        } finally {
          polls.delete(controller);
          request.socket.off('close', onClose);
        }
        const systemNames = [...(input.AttributeNames ?? []), ...(input.MessageSystemAttributeNames ?? [])];
        const attributeNames = input.MessageAttributeNames ?? [];
        const messages = received.map((r) => {
          const attributes = selectSystemAttributes(r, systemNames);
          const messageAttributes = selectMessageAttributes(r.message.messageAttributes, attributeNames);
          const attributesMd5 = md5OfMessageAttributes(messageAttributes);
          return {
            MessageId: r.message.messageId,
            ReceiptHandle: r.receiptHandle,
            MD5OfBody: r.message.md5OfBody,
            Body: r.message.body,
            ...(attributes ? { Attributes: attributes } : {}),
            ...(attributesMd5
              ? { MD5OfMessageAttributes: attributesMd5, MessageAttributes: messageAttributes }
              : {}),
          };
        });
        return messages.length > 0 ? { Messages: messages } : {};
      }
      case 'DeleteMessage': {
        const input = parseInput(schemas.DeleteMessage, body);
        engine.delete(engine.nameFromUrl(input.QueueUrl), input.ReceiptHandle);
        return {};
      }
      case 'DeleteMessageBatch': {
        const input = parseInput(schemas.DeleteMessageBatch, body);
        const name = engine.nameFromUrl(input.QueueUrl);
        checkBatch(input.Entries);
        return perEntry(input.Entries, (entry) => engine.delete(name, entry.ReceiptHandle));
      }
      case 'ChangeMessageVisibility': {
        const input = parseInput(schemas.ChangeMessageVisibility, body);
        engine.changeVisibility(
          engine.nameFromUrl(input.QueueUrl),
          input.ReceiptHandle,
          input.VisibilityTimeout,
        );
        return {};
      }
      case 'ChangeMessageVisibilityBatch': {
        const input = parseInput(schemas.ChangeMessageVisibilityBatch, body);
        const name = engine.nameFromUrl(input.QueueUrl);
        checkBatch(input.Entries);
        return perEntry(input.Entries, (entry) =>
          engine.changeVisibility(name, entry.ReceiptHandle, entry.VisibilityTimeout),
        );
      }
      case 'PurgeQueue': {
        const input = parseInput(schemas.PurgeQueue, body);
        engine.purge(engine.nameFromUrl(input.QueueUrl));
        return {};
      }
    }
  }

  function reply(
    response: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': JSON_1_0,
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
      ...headers,
    });
    response.end(text);
  }

  function replyError(response: ServerResponse, error: SqsApiError): void {
    reply(
      response,
      error.status,
      { __type: `com.amazonaws.sqs#${error.type}`, message: error.message },
      { 'x-amzn-query-error': `${error.queryCode};${error.faultSide}` },
    );
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = request.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith('AmazonSQS.') ? target.slice(10) : undefined;
    if (request.method !== 'POST' || operation === undefined) {
      // The query protocol (form-encoded Action=…) of older clients is not spoken here.
      reply(response, 400, {
        __type: 'com.amazon.coral.service#UnknownOperationException',
        message:
          'This endpoint speaks the SQS JSON protocol only (POST / with X-Amz-Target: AmazonSQS.<Operation>).',
      });
      return;
    }
    let raw: Buffer;
    try {
      raw = await readBody(request, MAX_REQUEST_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        replyError(
          response,
          new SqsApiError('BatchRequestTooLong', `Request larger than ${MAX_REQUEST_BYTES} bytes.`),
        );
        return;
      }
      throw error;
    }
    if (!isOperation(operation)) {
      replyError(
        response,
        new SqsApiError(
          'UnsupportedOperation',
          `The operation ${operation} is not supported by the local SQS service.`,
        ),
      );
      return;
    }
    let body: unknown;
    try {
      body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
    } catch {
      replyError(response, new SqsApiError('SerializationException', 'The request body is not valid JSON.'));
      return;
    }
    const started = performance.now();
    try {
      const result = await dispatch(operation, body, request);
      if (!response.destroyed) reply(response, 200, result);
      logger.debug('local.sqs.request', {
        operation,
        status: 200,
        ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      if (!(error instanceof SqsApiError)) throw error;
      logger.debug('local.sqs.request', { operation, status: error.status, error: error.type });
      if (!response.destroyed) replyError(response, error);
    }
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.error('local.sqs.internal_error', { error });
      if (!response.headersSent) {
        reply(response, 500, {
          __type: 'com.amazonaws.sqs#InternalError',
          message: 'We encountered an internal error. Please try again.',
        });
      } else {
        response.destroy();
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  const { origin, port } = await listen(server, options.host ?? '127.0.0.1', options.port ?? 0);
  engine.setEndpoint(origin);
  return {
    url: origin,
    port,
    async close() {
      for (const poll of polls) poll.abort();
      await closeServer(server);
    },
  };
}

function perEntry<E extends { Id: string }>(
  entries: readonly E[],
  run: (entry: E) => void,
): { Successful: { Id: string }[]; Failed: Record<string, unknown>[] } {
  const successful: { Id: string }[] = [];
  const failed: Record<string, unknown>[] = [];
  for (const entry of entries) {
    try {
      run(entry);
      successful.push({ Id: entry.Id });
    } catch (error) {
      if (!(error instanceof SqsApiError)) throw error;
      failed.push(failedEntry(entry.Id, error));
    }
  }
  return { Successful: successful, Failed: failed };
}

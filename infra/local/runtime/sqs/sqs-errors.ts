/**
 * SQS errors as the AWS SDK v3 expects them on the JSON protocol: HTTP status, a body
 * `{"__type":"com.amazonaws.sqs#<Shape>","message":…}` and, because SQS is "awsQueryCompatible", an
 * `x-amzn-query-error: <legacy code>;Sender` header. The SDK maps `__type` to its exception classes
 * (`QueueDoesNotExist`, `ReceiptHandleIsInvalid`, …); shapes it does not model (`InvalidParameterValue`,
 * `MissingParameter`) arrive as `SQSServiceException` with that name.
 *
 * Codes and statuses are those in `@aws-sdk/client-sqs` (the `awsQueryError` trait of each error shape).
 */
import { SyncError } from '../../../../lib/errors.ts';

const SQS_ERRORS = {
  QueueDoesNotExist: { queryCode: 'AWS.SimpleQueueService.NonExistentQueue', status: 400 },
  QueueNameExists: { queryCode: 'QueueAlreadyExists', status: 400 },
  InvalidAddress: { queryCode: 'InvalidAddress', status: 404 },
  InvalidParameterValue: { queryCode: 'InvalidParameterValue', status: 400 },
  MissingParameter: { queryCode: 'MissingParameter', status: 400 },
  InvalidAttributeName: { queryCode: 'InvalidAttributeName', status: 400 },
  InvalidAttributeValue: { queryCode: 'InvalidAttributeValue', status: 400 },
  InvalidMessageContents: { queryCode: 'InvalidMessageContents', status: 400 },
  ReceiptHandleIsInvalid: { queryCode: 'ReceiptHandleIsInvalid', status: 404 },
  MessageNotInflight: { queryCode: 'AWS.SimpleQueueService.MessageNotInflight', status: 400 },
  PurgeQueueInProgress: { queryCode: 'AWS.SimpleQueueService.PurgeQueueInProgress', status: 403 },
  EmptyBatchRequest: { queryCode: 'AWS.SimpleQueueService.EmptyBatchRequest', status: 400 },
  TooManyEntriesInBatchRequest: {
    queryCode: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    status: 400,
  },
  BatchEntryIdsNotDistinct: { queryCode: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct', status: 400 },
  InvalidBatchEntryId: { queryCode: 'AWS.SimpleQueueService.InvalidBatchEntryId', status: 400 },
  BatchRequestTooLong: { queryCode: 'AWS.SimpleQueueService.BatchRequestTooLong', status: 400 },
  UnsupportedOperation: { queryCode: 'AWS.SimpleQueueService.UnsupportedOperation', status: 400 },
  /** A request body that is not JSON (the SDK never sends one). */
  SerializationException: { queryCode: 'SerializationException', status: 400 },
  /** The engine is closing (shutdown). */
  ServiceUnavailable: { queryCode: 'ServiceUnavailable', status: 503 },
} as const;

export type SqsErrorType = keyof typeof SQS_ERRORS;

/** An SQS API error; thrown by the engine, answered by the server in the wire shape above. */
export class SqsApiError extends SyncError {
  readonly type: SqsErrorType;
  readonly status: number;
  readonly queryCode: string;

  constructor(type: SqsErrorType, message: string) {
    const spec = SQS_ERRORS[type];
    super(message, {
      kind:
        type === 'ServiceUnavailable'
          ? 'transient'
          : type === 'QueueDoesNotExist'
            ? 'not-found'
            : 'invalid-input',
      fault: type === 'ServiceUnavailable' ? 'theirs' : 'caller',
      code: `SQS_${type}`,
    });
    this.type = type;
    this.status = spec.status;
    this.queryCode = spec.queryCode;
  }

  /** `Sender` for client errors, `Receiver` for ours (the second half of `x-amzn-query-error`). */
  get faultSide(): 'Sender' | 'Receiver' {
    return this.status >= 500 ? 'Receiver' : 'Sender';
  }
}

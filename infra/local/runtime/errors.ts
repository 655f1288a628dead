/**
 * Errors of the local runtime (`npm start`). They follow the one error model of `lib/errors.ts`: a kind, a
 * fault side and a stable code, with bilingual messages because the people reading them are the
 * implementers running the stack on their own machine.
 */
import { type ErrorKind, type FaultSide, SyncError } from '../../../lib/errors.ts';

export type LocalRuntimeErrorCode =
  /** serverless.yml (or a file it includes) cannot be read or parsed */
  | 'LOCAL_SERVERLESS_UNREADABLE'
  /** a construct of serverless.yml the local runtime cannot interpret */
  | 'LOCAL_SERVERLESS_UNSUPPORTED'
  /** serverless.yml is readable but wrong (a reference to nothing, a bad value) */
  | 'LOCAL_SERVERLESS_INVALID'
  /** the queue files under the data directory cannot be read back */
  | 'LOCAL_QUEUE_STORE_CORRUPT'
  /** a handler module or export cannot be loaded */
  | 'LOCAL_HANDLER_NOT_FOUND'
  /** a handler did not answer within its configured timeout */
  | 'LOCAL_HANDLER_TIMEOUT'
  /** a handler threw or its worker died */
  | 'LOCAL_HANDLER_FAILED'
  /** a local setting (port, data directory, .env) is wrong */
  | 'LOCAL_SETTINGS_INVALID'
  /** the runtime is shutting down and refuses new work */
  | 'LOCAL_STOPPING';

/** Base class of every error the local runtime raises on purpose. */
export class LocalRuntimeError extends SyncError {
  override readonly code: LocalRuntimeErrorCode;

  constructor(
    message: string,
    code: LocalRuntimeErrorCode,
    options: { kind?: ErrorKind; fault?: FaultSide; cause?: unknown } = {},
  ) {
    super(message, {
      kind: options.kind ?? 'config',
      fault: options.fault ?? 'ours',
      code,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.code = code;
  }
}

/**
 * serverless.yml uses something the local runtime cannot run as the cloud would; the message names the
 * construct and where it is, so the user can fix the file (or tell us what to support).
 */
export class ServerlessConfigError extends LocalRuntimeError {
  /** Dotted location inside serverless.yml, e.g. `functions.webhook.events[0].http`. */
  readonly location: string;

  constructor(
    location: string,
    problem: string,
    code: 'LOCAL_SERVERLESS_UNSUPPORTED' | 'LOCAL_SERVERLESS_INVALID' | 'LOCAL_SERVERLESS_UNREADABLE',
    cause?: unknown,
  ) {
    super(`serverless.yml ${location}: ${problem}`, code, cause === undefined ? {} : { cause });
    this.location = location;
  }
}

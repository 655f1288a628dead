/**
 * A local SSM Parameter Store endpoint for the functions' settings code path (`lib/sync/settings.ts` reads
 * every parameter under `SSM_PARAMETER_PREFIX` with GetParametersByPath). It speaks the protocol the AWS SDK
 * v3 SSM client speaks — AWS JSON 1.1, `POST /` with `X-Amz-Target: AmazonSSM.<Operation>` — and the
 * functions reach it through the SDK's standard `AWS_ENDPOINT_URL_SSM`.
 *
 * Operations: GetParameter, GetParameters, GetParametersByPath (Recursive, MaxResults 1–10, NextToken),
 * PutParameter (Overwrite, versions), DeleteParameter. Errors as `{"__type":"ParameterNotFound",…}` with HTTP
 * 400, which the SDK maps to its exception classes.
 *
 * The store lives in memory and is filled at start-up from the local environment (`.env`): the environment
 * is the source of truth locally, so nothing is kept on disk that could shadow it after a restart.
 * A SecureString read without `WithDecryption` answers a stand-in for ciphertext, never the value — code
 * that forgets to decrypt fails here as it would in AWS.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { type Logger, silentLogger } from '../../../lib/log.ts';
import { BodyTooLargeError, closeServer, listen, readBody } from './http-util.ts';

const JSON_1_1 = 'application/x-amz-json-1.1';
const MAX_REQUEST_BYTES = 1024 * 1024;
/** SSM's limits (API Reference): 10 names per GetParameters, 1–10 results per page. */
const MAX_NAMES = 10;
const MAX_PAGE = 10;

export type ParameterType = 'String' | 'StringList' | 'SecureString';

interface StoredParameter {
  name: string;
  type: ParameterType;
  value: string;
  version: number;
  lastModifiedMs: number;
}

export interface ParameterInput {
  name: string;
  value: string;
  type?: ParameterType;
}

export interface FakeSsmOptions {
  host?: string;
  /** 0 = any free port. */
  port?: number;
  region?: string;
  accountId?: string;
  parameters?: readonly ParameterInput[];
  logger?: Logger;
}

export interface FakeSsm {
  /** The value for `AWS_ENDPOINT_URL_SSM`. */
  readonly url: string;
  readonly port: number;
  /** Create or overwrite a parameter (a new version). */
  put(parameter: ParameterInput): void;
  /** Names of the stored parameters, sorted. */
  names(): string[];
  /** How many requests of `operation` (e.g. `GetParametersByPath`) arrived so far. */
  calls(operation: string): number;
  close(): Promise<void>;
}

class SsmError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const parameterType = z.enum(['String', 'StringList', 'SecureString']);
const schemas = {
  GetParameter: z.object({ Name: z.string().min(1), WithDecryption: z.boolean().optional() }),
  GetParameters: z.object({
    Names: z.array(z.string().min(1)).min(1),
    WithDecryption: z.boolean().optional(),
  }),
  GetParametersByPath: z.object({
    Path: z.string().min(1),
    Recursive: z.boolean().optional(),
    WithDecryption: z.boolean().optional(),
    MaxResults: z.number().int().optional(),
    NextToken: z.string().optional(),
    ParameterFilters: z.array(z.unknown()).optional(),
  }),
  PutParameter: z.object({
    Name: z.string().min(1),
    Value: z.string(),
    Type: parameterType.optional(),
    Overwrite: z.boolean().optional(),
  }),
  DeleteParameter: z.object({ Name: z.string().min(1) }),
} as const;

/**
 * Start the endpoint.
 *
 * @throws Error when the port cannot be bound.
 */
export async function startFakeSsm(options: FakeSsmOptions = {}): Promise<FakeSsm> {
  const region = options.region ?? 'us-east-1';
  const accountId = options.accountId ?? '000000000000';
  const logger = options.logger ?? silentLogger;
  const store = new Map<string, StoredParameter>();
  const callCounts = new Map<string, number>();

  const put = (input: ParameterInput, overwrite = true): number => {
    const existing = store.get(input.name);
    if (existing && !overwrite) {
      throw new SsmError(
        'ParameterAlreadyExists',
        'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
      );
    }
    const version = (existing?.version ?? 0) + 1;
    store.set(input.name, {
      name: input.name,
      type: input.type ?? existing?.type ?? 'String',
      value: input.value,
      version,
      lastModifiedMs: Date.now(),
    });
    return version;
  };
  for (const parameter of options.parameters ?? []) put(parameter);

  const wire = (p: StoredParameter, decrypt: boolean) => ({
    Name: p.name,
    Type: p.type,
    // Stand-in ciphertext: what AWS returns for a SecureString read without decryption is KMS ciphertext.
    Value:
      p.type === 'SecureString' && !decrypt
        ? Buffer.from(`local-kms-ciphertext:${p.name}:${p.version}`).toString('base64')
        : p.value,
    Version: p.version,
    LastModifiedDate: p.lastModifiedMs / 1000,
    ARN: `arn:aws:ssm:${region}:${accountId}:parameter/${p.name.replace(/^\//, '')}`,
    DataType: 'text',
  });

  /** `name`, `name:3` (a version) — labels are not kept locally. */
  const lookup = (selector: string): StoredParameter | undefined => {
    const match = /^(.*?):(\d+)$/.exec(selector);
    const name = match?.[1] ?? selector;
    const stored = store.get(name);
    if (stored && match && Number(match[2]) !== stored.version) {
      throw new SsmError(
        'ParameterVersionNotFound',
        `Systems Manager could not find version ${match[2]} of ${name}.`,
      );
    }
    return stored;
  };

  function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
    const result = schema.safeParse(body);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    throw new SsmError(
      'ValidationException',
      `1 validation error detected: Value at '${issue?.path.join('.') ?? ''}' failed to satisfy constraint: ${issue?.message ?? 'invalid'}`,
    );
  }

  function dispatch(operation: string, body: unknown): unknown {
    switch (operation) {
      case 'GetParameter': {
        const input = parse(schemas.GetParameter, body);
        const found = lookup(input.Name);
        if (!found) throw new SsmError('ParameterNotFound', `Parameter ${input.Name} not found.`);
        return { Parameter: wire(found, input.WithDecryption === true) };
      }
      case 'GetParameters': {
        const input = parse(schemas.GetParameters, body);
        if (input.Names.length > MAX_NAMES) {
          throw new SsmError(
            'ValidationException',
            `1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to ${MAX_NAMES}`,
          );
        }
        const parameters: ReturnType<typeof wire>[] = [];
        const invalid: string[] = [];
        for (const name of input.Names) {
          const found = lookup(name);
          if (found) parameters.push(wire(found, input.WithDecryption === true));
          else invalid.push(name);
        }
        return { Parameters: parameters, InvalidParameters: invalid };
      }
      case 'GetParametersByPath': {
        const input = parse(schemas.GetParametersByPath, body);
        if (!input.Path.startsWith('/')) {
          throw new SsmError(
            'ValidationException',
            'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".',
          );
        }
        if (input.ParameterFilters && input.ParameterFilters.length > 0) {
          throw new SsmError(
            'ValidationException',
            'ParameterFilters are not supported by the local SSM endpoint.',
          );
        }
        const max = input.MaxResults ?? MAX_PAGE;
        if (max < 1 || max > MAX_PAGE) {
          throw new SsmError(
            'ValidationException',
            `1 validation error detected: Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${MAX_PAGE}`,
          );
        }
        const prefix = input.Path.endsWith('/') ? input.Path : `${input.Path}/`;
        const matching = [...store.values()]
          .filter(
            (p) =>
              p.name.startsWith(prefix) &&
              (input.Recursive === true || !p.name.slice(prefix.length).includes('/')),
          )
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        let start = 0;
        if (input.NextToken !== undefined) {
          start = Number(Buffer.from(input.NextToken, 'base64url').toString('utf8'));
          if (!Number.isInteger(start) || start < 0)
            throw new SsmError('InvalidNextToken', "The specified token isn't valid.");
        }
        const page = matching.slice(start, start + max);
        const next =
          start + max < matching.length ? Buffer.from(String(start + max)).toString('base64url') : undefined;
        return {
          Parameters: page.map((p) => wire(p, input.WithDecryption === true)),
          ...(next ? { NextToken: next } : {}),
        };
      }
      case 'PutParameter': {
        const input = parse(schemas.PutParameter, body);
        if (!store.has(input.Name) && input.Type === undefined) {
          throw new SsmError(
            'ValidationException',
            'A parameter type is required when you create a parameter.',
          );
        }
        const version = put(
          { name: input.Name, value: input.Value, ...(input.Type ? { type: input.Type } : {}) },
          input.Overwrite === true,
        );
        return { Version: version, Tier: 'Standard' };
      }
      case 'DeleteParameter': {
        const input = parse(schemas.DeleteParameter, body);
        if (!store.delete(input.Name))
          throw new SsmError('ParameterNotFound', `Parameter ${input.Name} not found.`);
        return {};
      }
      default:
        throw new SsmError(
          'UnknownOperationException',
          `The local SSM endpoint does not implement ${operation}.`,
        );
    }
  }

  function reply(response: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      'content-type': JSON_1_1,
      'content-length': Buffer.byteLength(text),
      'x-amzn-requestid': randomUUID(),
    });
    response.end(text);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = request.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith('AmazonSSM.') ? target.slice('AmazonSSM.'.length) : '';
    // Known operations only: a client cannot grow the map with made-up targets.
    if (operation in schemas) callCounts.set(operation, (callCounts.get(operation) ?? 0) + 1);
    let body: unknown = {};
    try {
      const raw = await readBody(request, MAX_REQUEST_BYTES);
      body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
      reply(response, 200, dispatch(operation, body));
      logger.debug('local.ssm.request', { operation, status: 200 });
    } catch (error) {
      const ssmError =
        error instanceof SsmError
          ? error
          : error instanceof BodyTooLargeError
            ? new SsmError('ValidationException', 'Request too large.')
            : error instanceof SyntaxError
              ? new SsmError('SerializationException', 'The request body is not valid JSON.')
              : undefined;
      if (!ssmError) throw error;
      logger.debug('local.ssm.request', { operation, status: 400, error: ssmError.type });
      reply(response, 400, { __type: ssmError.type, message: ssmError.message });
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.error('local.ssm.internal_error', { error });
      if (!response.headersSent)
        reply(response, 500, { __type: 'InternalServerError', message: 'internal error' });
    });
  });
  const { origin, port } = await listen(server, options.host ?? '127.0.0.1', options.port ?? 0);
  return {
    url: origin,
    port,
    put: (parameter) => {
      put(parameter);
    },
    names: () => [...store.keys()].sort(),
    calls: (operation) => callCounts.get(operation) ?? 0,
    close: () => closeServer(server),
  };
}

/**
 * CloudFormation intrinsic functions, resolved against the local stand-ins of the stack's resources, so a
 * function's environment and its event sources mean the same locally as in AWS:
 *
 * | resource type            | `Ref`                 | `Fn::GetAtt`                                  |
 * |--------------------------|-----------------------|-----------------------------------------------|
 * | `AWS::SQS::Queue`        | queue URL (local)     | `Arn`, `QueueName`, `QueueUrl`                |
 * | `AWS::DynamoDB::Table`   | table name            | `Arn`                                         |
 * | `AWS::SSM::Parameter`    | parameter name        | `Type`, `Value`                               |
 * | a function (`<Name>LambdaFunction`, Serverless naming) | function name | `Arn`                   |
 *
 * plus the pseudo parameters (`AWS::Region`, `AWS::AccountId`, `AWS::StackName`, `AWS::Partition`,
 * `AWS::URLSuffix`, `AWS::NoValue`) and `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`. Anything else that
 * a function would actually see fails with a message naming the construct and where it is.
 */
import { ServerlessConfigError } from '../errors.ts';

export interface ResourceDefinition {
  Type: string;
  Properties?: Record<string, unknown>;
}

export interface IntrinsicContext {
  region: string;
  accountId: string;
  stackName: string;
  /** Origin of the local queue service; queue URLs are `<origin>/<account>/<name>`. */
  sqsEndpoint: string;
  resources: Readonly<Record<string, ResourceDefinition>>;
  /** Serverless function keys by their CloudFormation logical id (`WebhookLambdaFunction` → function name). */
  functionNames: Readonly<Record<string, string>>;
}

/** `AWS::NoValue` resolves to this marker; containers drop it. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

/** Serverless's logical id of a function: `fxiaoke-webhook` → `FxiaokeDashwebhookLambdaFunction`. */
export function functionLogicalId(functionKey: string): string {
  const normalized = functionKey.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized.charAt(0).toUpperCase()}${normalized.slice(1)}LambdaFunction`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** CloudFormation's generated name for a resource without an explicit name (deterministic locally). */
function generatedName(
  context: IntrinsicContext,
  logicalId: string,
  suffix: string,
  maxLength: number,
): string {
  const base = `${context.stackName}-${logicalId}`;
  return `${base.slice(0, maxLength - suffix.length)}${suffix}`;
}

export class IntrinsicResolver {
  readonly #context: IntrinsicContext;
  readonly #resolving = new Set<string>();

  constructor(context: IntrinsicContext) {
    this.#context = context;
  }

  /** Physical name of a queue resource. */
  queueName(logicalId: string, location: string): string {
    const resource = this.#resource(logicalId, location);
    const explicit = resource.Properties?.QueueName;
    if (explicit !== undefined) return this.string(explicit, `resources.${logicalId}.Properties.QueueName`);
    const fifo = resource.Properties?.FifoQueue === true || resource.Properties?.FifoQueue === 'true';
    return generatedName(this.#context, logicalId, fifo ? '.fifo' : '', 80);
  }

  /** Physical name of a table resource. */
  tableName(logicalId: string, location: string): string {
    const resource = this.#resource(logicalId, location);
    const explicit = resource.Properties?.TableName;
    if (explicit !== undefined) return this.string(explicit, `resources.${logicalId}.Properties.TableName`);
    return generatedName(this.#context, logicalId, '', 255);
  }

  /**
   * Resolve a value that must end up as a string (an environment variable, an ARN).
   *
   * @throws {ServerlessConfigError} when it is not resolvable or not a string/number/boolean.
   */
  string(value: unknown, location: string): string {
    const resolved = this.resolve(value, location);
    if (typeof resolved === 'string') return resolved;
    if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
    throw new ServerlessConfigError(
      location,
      `需要文本值 / expected a string, got ${resolved === NO_VALUE ? 'AWS::NoValue' : JSON.stringify(resolved)}`,
      'LOCAL_SERVERLESS_INVALID',
    );
  }

  /**
   * Resolve intrinsic functions anywhere inside `value`.
   *
   * @throws {ServerlessConfigError} naming the construct and its location.
   */
  resolve(value: unknown, location: string): unknown {
    if (Array.isArray(value)) {
      return value
        .map((item, i) => this.resolve(item, `${location}[${i}]`))
        .filter((item) => item !== NO_VALUE);
    }
    if (!isPlainObject(value)) return value;
    const keys = Object.keys(value);
    const key = keys[0];
    if (
      keys.length === 1 &&
      key !== undefined &&
      (key === 'Ref' || key.startsWith('Fn::') || key === 'Condition')
    ) {
      return this.#function(key, value[key], `${location}.${key}`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = this.resolve(v, `${location}.${k}`);
      if (resolved !== NO_VALUE) out[k] = resolved;
    }
    return out;
  }

  #function(name: string, argument: unknown, location: string): unknown {
    switch (name) {
      case 'Ref':
        if (typeof argument !== 'string') throw this.#invalid(location, 'Ref takes a logical id');
        return this.#ref(argument, location);
      case 'Fn::GetAtt': {
        const parts = typeof argument === 'string' ? splitGetAtt(argument) : argument;
        if (!Array.isArray(parts) || parts.length !== 2 || typeof parts[0] !== 'string') {
          throw this.#invalid(location, 'Fn::GetAtt takes [LogicalId, Attribute]');
        }
        return this.#getAtt(parts[0], this.string(parts[1], `${location}[1]`), location);
      }
      case 'Fn::Sub':
        return this.#sub(argument, location);
      case 'Fn::Join': {
        if (!Array.isArray(argument) || argument.length !== 2)
          throw this.#invalid(location, 'Fn::Join takes [delimiter, [values]]');
        const delimiter = this.string(argument[0], `${location}[0]`);
        const list = this.resolve(argument[1], `${location}[1]`);
        if (!Array.isArray(list)) throw this.#invalid(location, 'Fn::Join needs a list');
        return list.map((item, i) => this.string(item, `${location}[1][${i}]`)).join(delimiter);
      }
      case 'Fn::Select': {
        if (!Array.isArray(argument) || argument.length !== 2)
          throw this.#invalid(location, 'Fn::Select takes [index, [values]]');
        const index = Number(this.resolve(argument[0], `${location}[0]`));
        const list = this.resolve(argument[1], `${location}[1]`);
        if (!Array.isArray(list) || !Number.isInteger(index) || index < 0 || index >= list.length) {
          throw this.#invalid(location, 'Fn::Select index out of range');
        }
        return list[index];
      }
      case 'Fn::Split': {
        if (!Array.isArray(argument) || argument.length !== 2)
          throw this.#invalid(location, 'Fn::Split takes [delimiter, string]');
        return this.string(argument[1], `${location}[1]`).split(this.string(argument[0], `${location}[0]`));
      }
      default:
        throw new ServerlessConfigError(
          location,
          `本地运行时不支持 ${name} / ${name} is not supported by the local runtime (supported: Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split)`,
          'LOCAL_SERVERLESS_UNSUPPORTED',
        );
    }
  }

  #ref(name: string, location: string): unknown {
    const ctx = this.#context;
    switch (name) {
      case 'AWS::Region':
        return ctx.region;
      case 'AWS::AccountId':
        return ctx.accountId;
      case 'AWS::StackName':
        return ctx.stackName;
      case 'AWS::StackId':
        return `arn:aws:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/local`;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::NoValue':
        return NO_VALUE;
    }
    const functionName = ctx.functionNames[name];
    if (functionName !== undefined) return functionName;
    const resource = this.#resource(name, location);
    switch (resource.Type) {
      case 'AWS::SQS::Queue':
        return `${ctx.sqsEndpoint}/${ctx.accountId}/${this.#guarded(name, () => this.queueName(name, location))}`;
      case 'AWS::DynamoDB::Table':
        return this.#guarded(name, () => this.tableName(name, location));
      case 'AWS::SSM::Parameter': {
        const explicit = resource.Properties?.Name;
        if (explicit === undefined)
          throw this.#invalid(location, `AWS::SSM::Parameter ${name} needs a Name locally`);
        return this.#guarded(name, () => this.string(explicit, `resources.${name}.Properties.Name`));
      }
      default:
        throw new ServerlessConfigError(
          location,
          `本地运行时无法解析对 ${name}（${resource.Type}）的 Ref / Ref to ${name} (${resource.Type}) cannot be resolved locally`,
          'LOCAL_SERVERLESS_UNSUPPORTED',
        );
    }
  }

  #getAtt(name: string, attribute: string, location: string): unknown {
    const ctx = this.#context;
    const functionName = ctx.functionNames[name];
    if (functionName !== undefined && attribute === 'Arn') {
      return `arn:aws:lambda:${ctx.region}:${ctx.accountId}:function:${functionName}`;
    }
    const resource = this.#resource(name, location);
    const type = resource.Type;
    if (type === 'AWS::SQS::Queue') {
      const queue = this.#guarded(name, () => this.queueName(name, location));
      if (attribute === 'Arn') return `arn:aws:sqs:${ctx.region}:${ctx.accountId}:${queue}`;
      if (attribute === 'QueueName') return queue;
      if (attribute === 'QueueUrl') return `${ctx.sqsEndpoint}/${ctx.accountId}/${queue}`;
    } else if (type === 'AWS::DynamoDB::Table') {
      const table = this.#guarded(name, () => this.tableName(name, location));
      if (attribute === 'Arn') return `arn:aws:dynamodb:${ctx.region}:${ctx.accountId}:table/${table}`;
    } else if (type === 'AWS::SSM::Parameter') {
      const value = resource.Properties?.[attribute];
      if ((attribute === 'Type' || attribute === 'Value') && value !== undefined) {
        return this.#guarded(name, () => this.resolve(value, `resources.${name}.Properties.${attribute}`));
      }
    }
    throw new ServerlessConfigError(
      location,
      `本地运行时无法解析 ${name}.${attribute}（${type}）/ Fn::GetAtt ${name}.${attribute} (${type}) cannot be resolved locally`,
      'LOCAL_SERVERLESS_UNSUPPORTED',
    );
  }

  #sub(argument: unknown, location: string): string {
    let template: unknown = argument;
    let variables: Record<string, unknown> = {};
    if (Array.isArray(argument)) {
      if (argument.length !== 2 || !isPlainObject(argument[1]))
        throw this.#invalid(location, 'Fn::Sub takes a string or [string, {variables}]');
      template = argument[0];
      variables = argument[1];
    }
    if (typeof template !== 'string') throw this.#invalid(location, 'Fn::Sub needs a template string');
    return template.replace(/\$\{(!?)([^}]*)\}/g, (_match, bang: string, body: string) => {
      if (bang === '!') return `\${${body}}`;
      const name = body.trim();
      if (Object.hasOwn(variables, name)) return this.string(variables[name], `${location}.${name}`);
      const dot = name.indexOf('.');
      if (dot > 0 && !name.startsWith('AWS::')) {
        return this.string(this.#getAtt(name.slice(0, dot), name.slice(dot + 1), location), location);
      }
      const value = this.#ref(name, location);
      if (typeof value !== 'string') throw this.#invalid(location, `\${${name}} is not a string`);
      return value;
    });
  }

  #resource(name: string, location: string): ResourceDefinition {
    const resource = this.#context.resources[name];
    if (!resource) {
      throw new ServerlessConfigError(
        location,
        `引用了不存在的资源 ${name} / refers to ${name}, which is not a resource in this serverless.yml`,
        'LOCAL_SERVERLESS_INVALID',
      );
    }
    return resource;
  }

  #guarded<T>(name: string, run: () => T): T {
    if (this.#resolving.has(name)) {
      throw new ServerlessConfigError(
        `resources.${name}`,
        `资源循环引用 / circular reference through ${name}`,
        'LOCAL_SERVERLESS_INVALID',
      );
    }
    this.#resolving.add(name);
    try {
      return run();
    } finally {
      this.#resolving.delete(name);
    }
  }

  #invalid(location: string, problem: string): ServerlessConfigError {
    return new ServerlessConfigError(location, problem, 'LOCAL_SERVERLESS_INVALID');
  }
}

function splitGetAtt(text: string): string[] {
  const dot = text.indexOf('.');
  return dot === -1 ? [text] : [text.slice(0, dot), text.slice(dot + 1)];
}

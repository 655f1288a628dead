/**
 * Turning config text into a validated value, and every problem into one line an implementer can act on:
 *
 *   config/sync.yaml:42:9: flows.accountToCustomer.dictionaries.FCustTypeId.values."1": expected a string, got the number 2 — write it in quotes ("2") / 应为文本（请加引号）
 *
 * Paths are exact (keys that are not identifiers are quoted, list items are `[n]`), YAML and JSON sources
 * both get line and column numbers, and an unknown key is reported with the closest known key when one is
 * near enough to be a typo.
 */
import { isAlias, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.ts';

type Path = readonly PropertyKey[];

/** `flows.accountToCustomer.dictionaries.FCustTypeId.values."1"`, `sourceForms[1]`. */
export function formatConfigPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') {
      out += `[${segment}]`;
      continue;
    }
    const text = String(segment);
    const part = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(text) ? text : JSON.stringify(text);
    out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  switch (typeof input) {
    case 'string':
      return `the text ${JSON.stringify(input)}`;
    case 'number':
      return `the number ${input}`;
    case 'boolean':
      return `${input}`;
    case 'object':
      return 'a mapping';
    default:
      return typeof input;
  }
}

const EXPECTED: Readonly<Record<string, { en: string; zh: string }>> = {
  string: { en: 'a string', zh: '文本' },
  number: { en: 'a number', zh: '数字' },
  int: { en: 'a whole number', zh: '整数' },
  boolean: { en: 'true or false', zh: 'true 或 false' },
  object: { en: 'a mapping (key: value)', zh: '键值映射' },
  record: { en: 'a mapping (key: value)', zh: '键值映射' },
  array: { en: 'a list', zh: '列表' },
};

function invalidTypeMessage(expected: string, input: unknown): string {
  if (input === undefined) return 'is required / 必填项缺失';
  const what = EXPECTED[expected] ?? { en: expected, zh: expected };
  let en = `expected ${what.en}, got ${describeInput(input)}`;
  let zh = `应为${what.zh}`;
  if (expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')) {
    // YAML reads 100, 0100 and true as a number/boolean: codes must be quoted to keep their exact text.
    en += ` — write it in quotes ("${String(input)}")`;
    zh += '（请加引号）';
  }
  return `${en} / ${zh}`;
}

function sizeMessage(issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const small = issue.code === 'too_small';
  const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'string':
      return small && Number(bound) === 1
        ? 'must not be empty / 不能为空'
        : `must have ${small ? 'at least' : 'at most'} ${bound} characters / 长度须${small ? '不少于' : '不超过'} ${bound}`;
    case 'array':
      return `must have ${small ? 'at least' : 'at most'} ${bound} item(s) / 须${small ? '至少' : '至多'}有 ${bound} 项`;
    default: {
      const op = small ? (inclusive ? '≥' : '>') : inclusive ? '≤' : '<';
      return `must be ${op} ${bound} / 须 ${op} ${bound}`;
    }
  }
}

/** The message part of one zod issue, in English and Chinese. */
function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return invalidTypeMessage(issue.expected, issue.input);
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeInput(
        issue.input,
      )} / 应为 ${issue.values.map((v) => String(v)).join(' | ')} 之一`;
    case 'too_small':
    case 'too_big':
      return sizeMessage(issue);
    case 'invalid_key':
      return `invalid key: ${issue.issues.map((inner) => inner.message).join('; ')}`;
    case 'invalid_union': {
      const expected = issue.errors.flatMap((branch) =>
        branch.length === 1 && branch[0]?.code === 'invalid_type' && branch[0].path.length === 0
          ? [branch[0].expected]
          : [],
      );
      if (expected.length === issue.errors.length && expected.length > 0) {
        const en = expected.map((e) => EXPECTED[e]?.en ?? e).join(' or ');
        const zh = expected.map((e) => EXPECTED[e]?.zh ?? e).join('或');
        return `expected ${en}, got ${describeInput(issue.input)} / 应为${zh}`;
      }
      return `${issue.message} / 值不合法`;
    }
    case 'invalid_format':
    case 'custom':
    case 'not_multiple_of':
    case 'unrecognized_keys':
    case 'invalid_element':
      return issue.message;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Known keys, for "did you mean" on unknown keys

function unwrapSchema(schema: z.core.$ZodType): z.core.$ZodType {
  let current: z.core.$ZodType = schema;
  for (let depth = 0; depth < 10; depth += 1) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable) current = current.unwrap();
    else if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault) current = current.unwrap();
    else if (current instanceof z.ZodPipe) current = current.out;
    else return current;
  }
  return current;
}

/** The object schema reached by `path`, when the path leads through objects, records and arrays. */
function objectSchemaAt(root: z.core.$ZodType, path: Path): z.ZodObject | undefined {
  let current = unwrapSchema(root);
  for (const segment of path) {
    if (current instanceof z.ZodObject) {
      const child = current.shape[String(segment)];
      if (child === undefined) return undefined;
      current = unwrapSchema(child);
    } else if (current instanceof z.ZodRecord) {
      current = unwrapSchema(current.valueType);
    } else if (current instanceof z.ZodArray) {
      current = unwrapSchema(current.element);
    } else {
      return undefined;
    }
  }
  return current instanceof z.ZodObject ? current : undefined;
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = previous[0] ?? 0;
    previous[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = previous[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      previous[j] = Math.min(above + 1, (previous[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length] ?? 0;
}

function suggestion(unknown: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = key.toLowerCase() === unknown.toLowerCase() ? 0 : editDistance(unknown, key);
    if (best === undefined || distance < best.distance) best = { key, distance };
  }
  if (best === undefined) return undefined;
  const allowed = Math.max(1, Math.floor(best.key.length / 4));
  return best.distance <= allowed ? best.key : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Locations in the source text

type Located = { line: number; col: number };

function nodeStart(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}

/** Line and column of the deepest node of `path` found in the document (a missing key → its parent). */
function locate(
  doc: ReturnType<typeof parseDocument>,
  counter: LineCounter,
  path: Path,
): Located | undefined {
  let node: unknown = doc.contents;
  let position = nodeStart(node);
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(segment),
      );
      if (!pair) break;
      position = nodeStart(pair.key) ?? position;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item: unknown = node.items[segment];
      if (item === undefined) break;
      position = nodeStart(item) ?? position;
      node = item;
    } else {
      break;
    }
  }
  return position === undefined ? undefined : counter.linePos(position);
}

// ---------------------------------------------------------------------------------------------------------

export interface ParseConfigTextOptions {
  format: 'yaml' | 'json';
  source: string;
}

/**
 * Parse YAML or JSON text and validate it with `schema`, reporting every problem with its location.
 *
 * @throws {ConfigError} one line per problem, each starting with the source name.
 */
export function parseConfigText<S extends z.ZodType>(
  schema: S,
  text: string,
  options: ParseConfigTextOptions,
): z.output<S> {
  const { source, format } = options;
  const counter = new LineCounter();
  // JSON is YAML 1.2 for our purposes; parsing both with the YAML parser gives line numbers for both.
  // `uniqueKeys` makes a repeated key an error: with JSON.parse the last one silently wins.
  const doc = parseDocument(text, {
    lineCounter: counter,
    uniqueKeys: true,
    prettyErrors: false,
    merge: format === 'yaml',
  });
  const at = (located: Located | undefined) =>
    located ? `${source}:${located.line}:${located.col}` : source;

  let data: unknown;
  if (format === 'json') {
    try {
      data = JSON.parse(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ConfigError([`${source}: JSON 语法错误 / JSON syntax error: ${reason}`], error);
    }
    const duplicates = doc.errors.filter((error) => error.code === 'DUPLICATE_KEY');
    if (duplicates.length > 0) {
      throw new ConfigError(
        duplicates.map(
          (error) =>
            `${at(counter.linePos(error.pos[0]))}: 重复的键 / duplicate key: ${error.message.split('\n')[0]}`,
        ),
      );
    }
  } else {
    if (doc.errors.length > 0) {
      throw new ConfigError(
        doc.errors.map(
          (error) =>
            `${at(counter.linePos(error.pos[0]))}: YAML 语法错误 / YAML syntax error: ${error.message.split('\n')[0]}`,
        ),
      );
    }
    data = doc.toJS({ maxAliasCount: 1000 });
  }
  if (data === null || data === undefined) {
    throw new ConfigError([`${source}: 配置为空 / the configuration is empty`]);
  }

  const result = schema.safeParse(data, { reportInput: true });
  if (result.success) return result.data;

  const lines: string[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = Object.keys(objectSchemaAt(schema, issue.path)?.shape ?? {});
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const near = suggestion(key, known);
        const hint = near ? ` (did you mean "${near}"?)` : '';
        const zhHint = near ? `（是否应为 "${near}"？）` : '';
        lines.push(
          `${at(locate(doc, counter, path))}: ${formatConfigPath(path)}: unknown key${hint} / 未知的配置项${zhHint}`,
        );
      }
      continue;
    }
    lines.push(
      `${at(locate(doc, counter, issue.path))}: ${formatConfigPath(issue.path)}: ${issueMessage(issue)}`,
    );
  }
  throw new ConfigError(lines, result.error);
}

/** Every key path the schema accepts (objects only; records and lists add `*`), for documentation checks. */
export function listConfigKeys(schema: z.core.$ZodType, prefix = ''): string[] {
  const current = unwrapSchema(schema);
  if (current instanceof z.ZodObject) {
    return Object.entries(current.shape).flatMap(([key, child]) => {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      return [path, ...listConfigKeys(child, path)];
    });
  }
  if (current instanceof z.ZodRecord) return listConfigKeys(current.valueType, `${prefix}.*`);
  if (current instanceof z.ZodArray) return listConfigKeys(current.element, `${prefix}[]`);
  return [];
}

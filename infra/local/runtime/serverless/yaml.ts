/**
 * YAML for serverless.yml and the files it includes, with CloudFormation's short-form tags (`!Ref X`,
 * `!GetAtt X.Arn`, `!Sub '…'`, `!Join [',', [...]]`, …) turned into their long forms (`{ Ref: X }`,
 * `{ 'Fn::GetAtt': [X, Arn] }`, …), as the Serverless Framework does before packaging.
 */
import { type CollectionTag, parse, type ScalarTag, YAMLParseError } from 'yaml';
import { ServerlessConfigError } from '../errors.ts';

const FUNCTION_TAGS = [
  'Base64',
  'Cidr',
  'FindInMap',
  'GetAZs',
  'ImportValue',
  'Join',
  'Select',
  'Split',
  'Sub',
  'And',
  'Equals',
  'If',
  'Not',
  'Or',
] as const;

function cloudFormationTags(): (ScalarTag | CollectionTag)[] {
  const tags: (ScalarTag | CollectionTag)[] = [
    { tag: '!Ref', resolve: (value: string) => ({ Ref: value }) },
    { tag: '!Condition', resolve: (value: string) => ({ Condition: value }) },
    {
      tag: '!GetAtt',
      resolve: (value: string) => {
        const dot = value.indexOf('.');
        return { 'Fn::GetAtt': dot === -1 ? [value] : [value.slice(0, dot), value.slice(dot + 1)] };
      },
    },
    {
      tag: '!GetAtt',
      collection: 'seq',
      resolve: (value) => ({ 'Fn::GetAtt': value.toJSON() }),
    },
  ];
  for (const name of FUNCTION_TAGS) {
    tags.push({ tag: `!${name}`, resolve: (value: string) => ({ [`Fn::${name}`]: value }) });
    tags.push({
      tag: `!${name}`,
      collection: 'seq',
      resolve: (value) => ({ [`Fn::${name}`]: value.toJSON() }),
    });
    tags.push({
      tag: `!${name}`,
      collection: 'map',
      resolve: (value) => ({ [`Fn::${name}`]: value.toJSON() }),
    });
  }
  return tags;
}

const CUSTOM_TAGS = cloudFormationTags();

/**
 * Parse YAML text.
 *
 * @throws {ServerlessConfigError} `LOCAL_SERVERLESS_UNREADABLE` with the file, line and column.
 */
export function parseServerlessYaml(text: string, path: string): unknown {
  try {
    return parse(text, { customTags: CUSTOM_TAGS, merge: true, maxAliasCount: 1_000 });
  } catch (error) {
    const where =
      error instanceof YAMLParseError && error.linePos
        ? ` (line ${error.linePos[0].line}, column ${error.linePos[0].col})`
        : '';
    throw new ServerlessConfigError(
      path,
      `YAML 无法解析${where} / is not valid YAML${where}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      'LOCAL_SERVERLESS_UNREADABLE',
      error,
    );
  }
}

/**
 * Parsed expressions kept for reuse in the embedded DynamoDB engine (dynalite).
 *
 * dynalite parses every ConditionExpression, UpdateExpression, KeyConditionExpression, FilterExpression and
 * ProjectionExpression anew with a PEG parser, on the one thread that serves every sync step. Measured with
 * `npm run bench` (V8 profile of that thread): ~28 % of its CPU. The sync sends a handful of distinct
 * expressions, over and over, with new values.
 *
 * How a parse is reused. The parser resolves `#name` placeholders to attribute names and `:value`
 * placeholders to the request's own value objects, checks operand types, and deletes the placeholders it
 * used from the request's "unused" lists (a placeholder left unused is an error). So a parse can serve
 * another request with the same expression, the same name map and values of the same types: its tree is
 * copied with each of the old request's value objects replaced by the new request's value under the same
 * placeholder, and the same placeholders are marked used.
 *
 * Kept out: BETWEEN and attribute_type, whose checks read the values themselves (bound order, type name);
 * parses that failed (every failing request is parsed, so its error is dynalite's own).
 *
 * Checked, not assumed: a parse is reused only after a copy made for a request with other values was equal
 * to that request's own parse. A parser that copied a value instead of referring to it would fail the check,
 * and its expression is then always parsed.
 *
 * ASSUMPTION (dynalite 4.0.0's internals): the parsers are `dynalite/db/{condition,update,projection}Parser`,
 * called as `parser.parse(text, { context })` with `context.{attrNames, attrVals, unusedAttrNames,
 * unusedAttrVals, isKeyCondition}`, returning a tree or an error string.
 */
import { createRequire } from 'node:module';

interface ParseContext {
  attrNames?: Record<string, string>;
  attrVals?: Record<string, unknown>;
  unusedAttrNames?: Record<string, true>;
  unusedAttrVals?: Record<string, true>;
  isKeyCondition?: boolean;
}

type Parse = (text: string, options: { context: ParseContext }) => unknown;

interface Entry {
  tree: object;
  /** The value objects of the request that was parsed, by placeholder. */
  values: Record<string, unknown>;
  usedNames: string[];
  usedValues: string[];
  /** Reuse only once a copy matched a real parse of a request with other values. */
  verified: boolean;
}

/** Distinct expressions kept per parser; beyond it the cache starts again (the sync uses a few dozen). */
const MAX_ENTRIES = 2_000;
const VALUE_DEPENDENT = /\b(between|attribute_type)\b/i;
const TYPES = ['S', 'N', 'B', 'NULL', 'BOOL', 'SS', 'NS', 'BS', 'L', 'M'] as const;

function typeOf(value: unknown): string {
  if (typeof value !== 'object' || value === null) return '?';
  const found = TYPES.find((type) => (value as Record<string, unknown>)[type] != null);
  return found ?? '?';
}

function keyOf(text: string, context: ParseContext): string {
  const values = context.attrVals ?? {};
  const types = Object.keys(values).map((name) => `${name}=${typeOf(values[name])}`);
  return `${context.isKeyCondition ? 'K' : '-'}\u0000${text}\u0000${JSON.stringify(context.attrNames ?? {})}\u0000${types.join(',')}`;
}

/** Copy `tree`, putting the new request's value object wherever the old request's value object was. */
function substitute(tree: unknown, swap: Map<unknown, unknown>): unknown {
  if (swap.has(tree)) return swap.get(tree);
  if (Array.isArray(tree)) return tree.map((item) => substitute(item, swap));
  if (typeof tree !== 'object' || tree === null) return tree;
  // Keep the prototype: dynalite's path maps are Object.create(null).
  const copy = Object.create(Object.getPrototypeOf(tree)) as Record<string, unknown>;
  for (const [key, value] of Object.entries(tree)) copy[key] = substitute(value, swap);
  return copy;
}

function copyFor(entry: Entry, context: ParseContext): unknown {
  const values = context.attrVals ?? {};
  const swap = new Map<unknown, unknown>();
  for (const name of entry.usedValues) swap.set(entry.values[name], values[name]);
  return substitute(entry.tree, swap);
}

/**
 * The placeholders `text` uses — read from the text, not from what the parse removed from the "unused" lists:
 * those are shared by the request's expressions, so a `:now` the update expression already used would not
 * show as used by the condition.
 */
function placeholdersOf(text: string, context: ParseContext): { usedNames: string[]; usedValues: string[] } {
  const tokens = new Set(text.match(/[#:][0-9A-Za-z_]+/g) ?? []);
  const names = context.attrNames ?? {};
  const values = context.attrVals ?? {};
  return {
    usedNames: [...tokens].filter((token) => token.startsWith('#') && Object.hasOwn(names, token)),
    usedValues: [...tokens].filter((token) => token.startsWith(':') && Object.hasOwn(values, token)),
  };
}

function markUsed(context: ParseContext, names: readonly string[], values: readonly string[]): void {
  for (const name of names) if (context.unusedAttrNames) delete context.unusedAttrNames[name];
  for (const name of values) if (context.unusedAttrVals) delete context.unusedAttrVals[name];
}

/** Parses served from a kept tree since start (all parsers, every dynalite server of the process). */
let reused = 0;

/** How many parses were reused: the tests' way to see the cache is in use, not only harmless. */
export function reusedParses(): number {
  return reused;
}

function cachingParse(parse: Parse): Parse {
  let entries = new Map<string, Entry | 'never'>();
  return (text, options) => {
    const context = options.context;
    if (typeof text !== 'string' || VALUE_DEPENDENT.test(text)) return parse(text, options);
    const key = keyOf(text, context);
    const entry = entries.get(key);
    if (entry === 'never') return parse(text, options);
    if (entry?.verified) {
      reused += 1;
      markUsed(context, entry.usedNames, entry.usedValues);
      return copyFor(entry, context);
    }
    const tree = parse(text, options);
    if (typeof tree !== 'object' || tree === null) return tree;
    if (entry) {
      // Verify on the first request whose values differ from the stored ones.
      const values = context.attrVals ?? {};
      const differ = entry.usedValues.some(
        (name) => JSON.stringify(values[name]) !== JSON.stringify(entry.values[name]),
      );
      if (differ) {
        const same = JSON.stringify(copyFor(entry, context)) === JSON.stringify(tree);
        if (same) entry.verified = true;
        else entries.set(key, 'never');
      }
      return tree;
    }
    const values = { ...(context.attrVals ?? {}) };
    const { usedNames, usedValues } = placeholdersOf(text, context);
    if (entries.size >= MAX_ENTRIES) entries = new Map();
    entries.set(key, {
      // A copy, since dynalite may rework the tree it is given (a key condition written value-first is turned
      // around in place); the value objects stay shared, as substitution finds them by identity.
      tree: substitute(tree, new Map(usedValues.map((name) => [values[name], values[name]]))) as object,
      values,
      usedNames,
      usedValues,
      verified: false,
    });
    return tree;
  };
}

const require = createRequire(import.meta.url);
let installed: boolean | undefined;

/**
 * Make dynalite's expression parsers reuse their parses (once per process: the parsers are shared by every
 * dynalite server in it). Returns whether the parsers have the expected shape (false: left as they are).
 */
export function cacheExpressionParses(): boolean {
  if (installed !== undefined) return installed;
  const parsers = ['conditionParser', 'updateParser', 'projectionParser'].map((name): { parse?: unknown } =>
    require(`dynalite/db/${name}`),
  );
  installed = parsers.every((parser) => typeof parser.parse === 'function');
  if (installed) for (const parser of parsers) parser.parse = cachingParse(parser.parse as Parse);
  return installed;
}

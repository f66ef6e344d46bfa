/**
 * Built-in filters: Pebble's core filters and the pure ones Kestra adds. Every filter treats its input as data
 * through the sandbox helpers of `values.ts`, and checks the size of what it builds before building it.
 */

import {
  argument,
  ensureSize,
  optionalString,
  requireInteger,
  requireNumber,
  requireString,
} from './arguments.js';
import { addToDate, formatDate, parseDate, resolveZone, type Zone } from './date-time.js';
import { typeError } from './expression-errors.js';
import type { EvalContext, ExpressionFilter } from './types.js';
import {
  createMap,
  isEmptyValue,
  isPlainObject,
  listItems,
  looseCompare,
  mapEntries,
  toDisplayString,
  toJson,
  typeName,
  type PlainMap,
} from './values.js';

type Args = readonly unknown[];
type Kwargs = Readonly<Record<string, unknown>>;

function stringInput(input: unknown, filter: string): string {
  if (typeof input !== 'string') throw typeError(`${filter} expects a string, got ${typeName(input)}`);
  return input;
}

function listInput(input: unknown, filter: string): unknown[] {
  if (!Array.isArray(input)) throw typeError(`${filter} expects a list, got ${typeName(input)}`);
  return listItems(input);
}

function mapInput(input: unknown, filter: string): PlainMap {
  if (!isPlainObject(input)) throw typeError(`${filter} expects a map, got ${typeName(input)}`);
  return input;
}

/** A string filter that passes null through (like Pebble's). */
function text(
  filter: string,
  apply: (input: string, args: Args, kwargs: Kwargs, ctx: EvalContext) => unknown,
): ExpressionFilter {
  return (input, args, kwargs, ctx) =>
    input === null || input === undefined ? null : apply(stringInput(input, filter), args, kwargs, ctx);
}

/** Ascending order; nulls first. */
function sortItems(items: unknown[]): unknown[] {
  const isNull = (value: unknown): boolean => value === null || value === undefined;
  return items.sort((a, b) => looseCompare(a, b) ?? Number(isNull(b)) - Number(isNull(a)));
}

/** Upper-cases the first character only (Pebble's `capitalize` leaves the rest alone). */
function capitalize(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1);
}

function title(value: string): string {
  let result = '';
  let startOfWord = true;
  for (const char of value) {
    result += startOfWord ? char.toUpperCase() : char.toLowerCase();
    startOfWord = /\s/.test(char);
  }
  return result;
}

/** Literal (not regular-expression) replacement of every occurrence, size-checked while it is built. */
function replaceAll(input: string, search: string, replacement: string, ctx: EvalContext): string {
  if (search === '') return input;
  let result = '';
  let from = 0;
  for (let at = input.indexOf(search); at !== -1; at = input.indexOf(search, from)) {
    result += input.slice(from, at) + replacement;
    from = at + search.length;
    ensureSize(result.length + input.length - from, ctx);
  }
  return result + input.slice(from);
}

function utf8ToBase64(value: string): string {
  const bytes = new TextEncoder().encode(value);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function base64ToUtf8(value: string): string {
  try {
    const binary = atob(value.replace(/\s+/g, ''));
    const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw typeError('base64decode: the input is not base64-encoded UTF-8 text');
  }
}

/** Java's `URLEncoder.encode(value, UTF_8)`: spaces become `+`, only `A-Za-z0-9.-*_` stay as they are. */
function urlEncode(value: string): string {
  try {
    return encodeURIComponent(value)
      .replace(/[!'()~]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%20/g, '+');
  } catch {
    throw typeError('urlencode: the input is not valid Unicode text');
  }
}

function urlDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw typeError('urldecode: malformed percent-encoding');
  }
}

function slugify(value: string): string {
  return value
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function indent(value: string, amount: unknown, prefix: unknown, first: boolean, ctx: EvalContext): string {
  const width = requireInteger(amount, 'indent amount');
  if (width < 0) throw typeError('indent amount must not be negative');
  const unit = optionalString(prefix, 'indent prefix', ' ');
  const lines = value.split(/\r?\n/);
  ensureSize(value.length + lines.length * width * unit.length + 1, ctx);
  const pad = unit.repeat(width);
  return lines.map((line, index) => (index === 0 && !first ? line : pad + line)).join('\n');
}

/** Java `String.split(literal)`: a positive limit caps the parts, otherwise trailing empty strings are dropped. */
function split(value: string, delimiter: string, limit: number): string[] {
  if (delimiter === '') return Array.from(value);
  const parts = value.split(delimiter);
  if (limit > 0 && parts.length > limit) return [...parts.slice(0, limit - 1), parts.slice(limit - 1).join(delimiter)];
  if (limit === 0) while (parts.length > 1 && parts.at(-1) === '') parts.pop();
  return parts;
}

function toNumber(input: unknown, type: string | undefined): number {
  if (typeof input === 'number') return input;
  const value = stringInput(input, 'number').trim();
  const kind = type?.toUpperCase();
  const integer = kind === 'INT' || kind === 'INTEGER' || kind === 'LONG' || kind === 'BIGINTEGER';
  const pattern = integer ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  if (!pattern.test(value)) throw typeError(`number: cannot convert "${value}" to a number`);
  return Number(value);
}

interface DateArgs {
  zone: Zone;
  existingFormat: string | undefined;
}

function dateArgs(args: Args, kwargs: Kwargs, offset: number): DateArgs {
  const timeZone = optionalString(argument(args, kwargs, offset, 'timeZone'), 'timeZone', 'UTC');
  return {
    zone: resolveZone(timeZone),
    existingFormat: optionalString(argument(args, kwargs, offset + 1, 'existingFormat'), 'existingFormat'),
  };
}

/** Epoch milliseconds of a date filter's input: a Date, epoch milliseconds or a date string. */
function toInstant(input: unknown, { zone, existingFormat }: DateArgs, filter: string): number {
  if (input instanceof Date) {
    const time = Date.prototype.getTime.call(input);
    if (Number.isNaN(time)) throw typeError(`${filter}: invalid date`);
    return time;
  }
  if (typeof input === 'number' && Number.isFinite(input)) return input;
  if (typeof input === 'string') return parseDate(input, zone, existingFormat);
  throw typeError(`${filter} expects a date, an ISO-8601 string or epoch milliseconds, got ${typeName(input)}`);
}

function first(input: unknown, filter: string, pick: (length: number) => number): unknown {
  if (input === null || input === undefined) return null;
  if (typeof input === 'string') return input === '' ? null : input.charAt(pick(input.length));
  const items = listInput(input, filter);
  return items.length === 0 ? null : items[pick(items.length)];
}

function substring(filter: string, pick: (input: string, separator: string) => string): ExpressionFilter {
  return text(filter, (input, args, kwargs) =>
    pick(input, requireString(argument(args, kwargs, 0, 'separator'), `${filter} separator`)),
  );
}

const filters: [string, ExpressionFilter][] = [
  ['abs', (input) => (input === null ? null : Math.abs(requireNumber(input, 'abs input')))],
  [
    'abbreviate',
    text('abbreviate', (input, args, kwargs) => {
      const length = requireInteger(argument(args, kwargs, 0, 'length'), 'abbreviate length');
      if (input.length <= length) return input;
      if (length < 3) throw typeError('abbreviate length must be at least 3');
      return `${input.slice(0, length - 3)}...`;
    }),
  ],
  ['base64decode', text('base64decode', base64ToUtf8)],
  ['base64encode', text('base64encode', utf8ToBase64)],
  ['capitalize', text('capitalize', capitalize)],
  [
    'chunk',
    (input, args, kwargs) => {
      const size = requireInteger(argument(args, kwargs, 0, 'size'), 'chunk size');
      if (size < 1) throw typeError('chunk size must be at least 1');
      const items = listInput(input, 'chunk');
      const chunks: unknown[][] = [];
      for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
      return chunks;
    },
  ],
  [
    'date',
    (input, args, kwargs) => {
      const format = optionalString(argument(args, kwargs, 0, 'format'), 'date format', 'iso');
      const options = dateArgs(args, kwargs, 1);
      return formatDate(toInstant(input, options, 'date'), format, options.zone);
    },
  ],
  [
    'dateAdd',
    (input, args, kwargs) => {
      const amount = requireInteger(argument(args, kwargs, 0, 'amount'), 'dateAdd amount');
      const unit = requireString(argument(args, kwargs, 1, 'unit'), 'dateAdd unit');
      const format = optionalString(argument(args, kwargs, 2, 'format'), 'date format', 'iso');
      const options = dateArgs(args, kwargs, 3);
      const instant = addToDate(toInstant(input, options, 'dateAdd'), amount, unit, options.zone);
      return formatDate(instant, format, options.zone);
    },
  ],
  [
    'default',
    (input, args, kwargs) => (isEmptyValue(input) ? (argument(args, kwargs, 0, 'default') ?? null) : input),
  ],
  [
    'distinct',
    (input, _args, _kwargs, ctx) => {
      const seen = new Set<string>();
      return listInput(input, 'distinct').filter((item) => {
        const key = typeof item === 'string' ? `s${item}` : `j${toJson(item, ctx.limits.maxOutputLength)}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    },
  ],
  [
    'endsWith',
    text('endsWith', (input, args, kwargs) =>
      input.endsWith(requireString(argument(args, kwargs, 0, 'value'), 'endsWith value')),
    ),
  ],
  ['first', (input) => first(input, 'first', () => 0)],
  [
    'flatten',
    (input, _args, _kwargs, ctx) => {
      const result: unknown[] = [];
      for (const item of listInput(input, 'flatten')) {
        if (Array.isArray(item)) {
          ensureSize(result.length + item.length, ctx);
          result.push(...listItems(item));
        } else {
          result.push(item);
        }
      }
      return result;
    },
  ],
  [
    'indent',
    text('indent', (input, args, kwargs, ctx) =>
      indent(input, argument(args, kwargs, 0, 'amount'), argument(args, kwargs, 1, 'prefix'), false, ctx),
    ),
  ],
  [
    'join',
    (input, args, kwargs, ctx) => {
      if (input === null || input === undefined) return null;
      const separator = optionalString(argument(args, kwargs, 0, 'separator'), 'join separator', '');
      const parts = listInput(input, 'join').map((item) => toDisplayString(item, ctx.limits.maxOutputLength));
      ensureSize(parts.reduce((sum, part) => sum + part.length + separator.length, 0), ctx);
      return parts.join(separator);
    },
  ],
  ['json', (input, _args, _kwargs, ctx) => toJson(input, ctx.limits.maxOutputLength)],
  ['keys', (input) => Object.keys(mapInput(input, 'keys'))],
  ['last', (input) => first(input, 'last', (length) => length - 1)],
  [
    'length',
    (input) => {
      if (input === null || input === undefined) return 0;
      if (typeof input === 'string' || Array.isArray(input)) return input.length;
      return Object.keys(mapInput(input, 'length')).length;
    },
  ],
  ['lower', text('lower', (input) => input.toLowerCase())],
  [
    'merge',
    (input, args, kwargs, ctx) => {
      const other = argument(args, kwargs, 0, 'items');
      if (Array.isArray(input)) {
        const items = listInput(other, 'merge argument');
        ensureSize(input.length + items.length, ctx);
        return [...listItems(input), ...items];
      }
      return createMap([...mapEntries(mapInput(input, 'merge')), ...mapEntries(mapInput(other, 'merge argument'))]);
    },
  ],
  [
    'nindent',
    text('nindent', (input, args, kwargs, ctx) =>
      `\n${indent(input, argument(args, kwargs, 0, 'amount'), argument(args, kwargs, 1, 'prefix'), true, ctx)}`,
    ),
  ],
  [
    'number',
    (input, args, kwargs) => toNumber(input, optionalString(argument(args, kwargs, 0, 'type'), 'number type')),
  ],
  [
    'replace',
    text('replace', (input, args, kwargs, ctx) => {
      const search = argument(args, kwargs, 0, 'replace_pairs');
      if (isPlainObject(search)) {
        return mapEntries(search).reduce(
          (result, [key, value]) => replaceAll(result, key, toDisplayString(value, ctx.limits.maxOutputLength), ctx),
          input,
        );
      }
      const replacement = requireString(argument(args, kwargs, 1, 'replacement'), 'replace replacement');
      return replaceAll(input, requireString(search, 'replace search'), replacement, ctx);
    }),
  ],
  [
    'reverse',
    (input) => {
      if (input === null || input === undefined) return null;
      if (typeof input === 'string') return Array.from(input).reverse().join('');
      return listInput(input, 'reverse').reverse();
    },
  ],
  ['rsort', (input) => sortItems(listInput(input, 'rsort')).reverse()],
  [
    'slice',
    (input, args, kwargs) => {
      if (input === null || input === undefined) return null;
      const source = typeof input === 'string' ? input : listInput(input, 'slice');
      const from = requireInteger(argument(args, kwargs, 0, 'fromIndex') ?? 0, 'slice fromIndex');
      const to = requireInteger(argument(args, kwargs, 1, 'toIndex') ?? source.length, 'slice toIndex');
      return source.slice(Math.max(0, from), Math.max(0, to));
    },
  ],
  ['slugify', text('slugify', slugify)],
  ['sort', (input) => sortItems(listInput(input, 'sort'))],
  [
    'split',
    text('split', (input, args, kwargs) =>
      split(
        input,
        requireString(argument(args, kwargs, 0, 'delimiter'), 'split delimiter'),
        requireInteger(argument(args, kwargs, 1, 'limit') ?? 0, 'split limit'),
      ),
    ),
  ],
  [
    'startsWith',
    text('startsWith', (input, args, kwargs) =>
      input.startsWith(requireString(argument(args, kwargs, 0, 'value'), 'startsWith value')),
    ),
  ],
  [
    'substringAfter',
    substring('substringAfter', (input, separator) => {
      const at = input.indexOf(separator);
      return at === -1 ? '' : input.slice(at + separator.length);
    }),
  ],
  [
    'substringAfterLast',
    substring('substringAfterLast', (input, separator) => {
      const at = input.lastIndexOf(separator);
      return at === -1 || separator === '' ? '' : input.slice(at + separator.length);
    }),
  ],
  [
    'substringBefore',
    substring('substringBefore', (input, separator) => {
      const at = input.indexOf(separator);
      return at === -1 ? input : input.slice(0, at);
    }),
  ],
  [
    'substringBeforeLast',
    substring('substringBeforeLast', (input, separator) => {
      const at = input.lastIndexOf(separator);
      return at === -1 || separator === '' ? input : input.slice(0, at);
    }),
  ],
  [
    'timestamp',
    (input, args, kwargs) => Math.floor(toInstant(input, dateArgs(args, kwargs, 0), 'timestamp') / 1000),
  ],
  ['title', text('title', title)],
  ['toJson', (input, _args, _kwargs, ctx) => toJson(input, ctx.limits.maxOutputLength)],
  ['trim', text('trim', (input) => input.trim())],
  ['upper', text('upper', (input) => input.toUpperCase())],
  ['urldecode', text('urldecode', urlDecode)],
  ['urlencode', text('urlencode', urlEncode)],
  ['values', (input) => mapEntries(mapInput(input, 'values')).map(([, value]) => value)],
];

/** The built-in filters by name. */
export const BUILTIN_FILTERS: ReadonlyMap<string, ExpressionFilter> = new Map(filters);

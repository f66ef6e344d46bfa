/**
 * The KV store's pure rules, shared by its stores (Postgres, the file store of `sluice run`), its REST routes, the
 * `kv()` function and the `kv.*` tasks: what a key may be, Kestra's value types (KVType), how a value gets its type,
 * how a `PUT` body is read (Kestra parses it as ION) and how big a value may be.
 *
 * A value travels as `{type, value}` with `value` plain JSON: STRING a string, NUMBER a number, BOOLEAN a boolean,
 * DATETIME an ISO instant in UTC (`2021-09-01T01:02:03Z`, as Java prints an Instant), DATE `yyyy-MM-dd`, DURATION an
 * ISO duration as Java prints one (`PT5S`, `PT24H`), JSON any object or list.
 */
import { SluiceError } from './errors.js';
import { NAMESPACE_MAX, NAMESPACE_PATTERN } from './flow/model.js';
import { formatDuration, parseDuration } from './schedule/duration.js';

/** Kestra's KVType, in its order. */
export const KV_TYPES = ['STRING', 'NUMBER', 'BOOLEAN', 'DATETIME', 'DATE', 'DURATION', 'JSON'] as const;
export type KvType = (typeof KV_TYPES)[number];

/** Kestra's key format. */
export const KV_KEY_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9._-]*$';
const KEY_REGEX = new RegExp(KV_KEY_PATTERN);
/** Longest key (Kestra has no limit of its own; its keys are file names, which most file systems cap at 255 bytes). */
export const KV_KEY_MAX = 255;
/** Largest value: the UTF-8 bytes of its JSON form (see {@link kvValueSize}). */
export const KV_VALUE_MAX_BYTES = 1024 * 1024;

/** A stored value with its type. */
export interface KvValue {
  readonly type: KvType;
  readonly value: unknown;
}

export function isKvType(value: unknown): value is KvType {
  return typeof value === 'string' && (KV_TYPES as readonly string[]).includes(value);
}

/** @throws SluiceError `SLU_KV_INVALID_KEY` naming the problem. */
export function assertKvKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') throw new SluiceError('SLU_KV_INVALID_KEY', { key: JSON.stringify(key ?? null), reason: 'a key must be a non-empty text' });
  if (key.length > KV_KEY_MAX) throw new SluiceError('SLU_KV_INVALID_KEY', { key: JSON.stringify(`${key.slice(0, 40)}...`), reason: `it is ${key.length} characters long, more than ${KV_KEY_MAX}` }, { key });
  if (!KEY_REGEX.test(key)) {
    throw new SluiceError('SLU_KV_INVALID_KEY', { key: JSON.stringify(key), reason: `it must match ${KV_KEY_PATTERN} (letters, digits, ".", "_" and "-", starting with a letter or a digit)` }, { key });
  }
}

const NAMESPACE_REGEX = new RegExp(NAMESPACE_PATTERN);

/** A KV namespace is a flow namespace. @throws SluiceError `SLU_FLOW_INVALID_NAMESPACE`. */
export function assertKvNamespace(namespace: unknown): asserts namespace is string {
  if (typeof namespace !== 'string' || namespace.length > NAMESPACE_MAX || !NAMESPACE_REGEX.test(namespace)) {
    const actual = JSON.stringify(namespace ?? null);
    throw new SluiceError('SLU_FLOW_INVALID_NAMESPACE', { actual, pattern: NAMESPACE_PATTERN, max: NAMESPACE_MAX }, { namespace: actual });
  }
}

// An ISO duration as Java's Duration.parse reads it (no weeks, unlike parseDuration): only such a string is a DURATION.
const JAVA_DURATION = /^[-+]?P(?:[-+]?\d+D)?(?:T(?:[-+]?\d+H)?(?:[-+]?\d+M)?(?:[-+]?\d+(?:[.,]\d{0,9})?S)?)?$/i;

/** Whether a text is an ISO duration Kestra reads back as a DURATION (`PT5S`, `P1D`, `PT1H30M`). */
export function isIsoDuration(text: string): boolean {
  return JAVA_DURATION.test(text) && !/^[-+]?P$/i.test(text) && !/T$/i.test(text);
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/i;

function validDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** An instant as Java's `Instant.toString()` prints it: UTC, the fraction only when there is one. */
export function instantText(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

/** `yyyy-MM-dd`, or undefined when the text is not a calendar date. */
export function parseKvDate(text: string): string | undefined {
  const match = DATE.exec(text);
  if (!match || !validDate(Number(match[1]), Number(match[2]), Number(match[3]))) return undefined;
  return text;
}

/** An ISO date-time with an offset (`2021-09-01T01:02:03Z`, `...+02:00`) as a UTC instant text, else undefined. */
export function parseKvDateTime(text: string): string | undefined {
  const match = DATETIME.exec(text);
  if (!match || !validDate(Number(match[1]), Number(match[2]), Number(match[3]))) return undefined;
  if (Number(match[4]) > 23 || Number(match[5]) > 59 || Number(match[6] ?? 0) > 59) return undefined;
  const date = new Date(text.toUpperCase());
  return Number.isNaN(date.getTime()) ? undefined : instantText(date);
}

/** A duration text in Java's form (`P1D` → `PT24H`), else undefined. */
function parseKvDuration(text: string): string | undefined {
  if (!isIsoDuration(text)) return undefined;
  try {
    return formatDuration(parseDuration(text));
  } catch {
    return undefined;
  }
}

function invalidValue(reason: string): SluiceError {
  return new SluiceError('SLU_KV_INVALID_VALUE', { reason });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a map' : `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * The type of a value as Kestra gives it when none is asked for: a text that is an ISO duration is a DURATION (Kestra
 * reads one back as a Duration), another text a STRING, then NUMBER, BOOLEAN, and JSON for maps and lists.
 *
 * @throws SluiceError `SLU_KV_INVALID_VALUE` for null, a number that is not finite, or anything that is not JSON.
 */
export function kvValueOf(value: unknown): KvValue {
  if (typeof value === 'string') {
    const duration = parseKvDuration(value);
    return duration === undefined ? { type: 'STRING', value } : { type: 'DURATION', value: duration };
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalidValue(`${value} is not a number the store can hold`);
    return { type: 'NUMBER', value };
  }
  if (typeof value === 'boolean') return { type: 'BOOLEAN', value };
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalidValue('an invalid date');
    return { type: 'DATETIME', value: instantText(value) };
  }
  if (value === null || value === undefined) throw invalidValue('a value is required: null cannot be stored (delete the key instead)');
  if (typeof value === 'object') return { type: 'JSON', value: toJson(value) };
  throw invalidValue(`${typeof value} values cannot be stored`);
}

/** A deep copy that is plain JSON (what the stores hold). */
function toJson(value: object): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch (error) {
    throw invalidValue(`the value is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * A value converted to `type`, as the `kv.Set` task's `kvType` does. A text is parsed: NUMBER a number, BOOLEAN
 * `true` or `false` (any case), DATETIME an ISO date-time with an offset, DATE `yyyy-MM-dd` (or a date-time: its UTC
 * date), DURATION an ISO duration, JSON a JSON document. A value that already has the type is kept.
 *
 * @throws SluiceError `SLU_KV_INVALID_VALUE` naming the value and the type when it cannot be converted.
 */
export function convertKvValue(value: unknown, type: KvType): KvValue {
  const cannot = (): SluiceError => invalidValue(`${describe(value)} is not a ${type}${TYPE_HINTS[type]}`);
  const text = typeof value === 'string' ? value.trim() : undefined;
  switch (type) {
    case 'STRING':
      if (value === null || value === undefined) throw cannot();
      return { type, value: typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value) };
    case 'NUMBER': {
      if (typeof value === 'number' && Number.isFinite(value)) return { type, value };
      const number = text !== undefined && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) ? Number(text) : Number.NaN;
      if (!Number.isFinite(number)) throw cannot();
      return { type, value: number };
    }
    case 'BOOLEAN':
      if (typeof value === 'boolean') return { type, value };
      if (text?.toLowerCase() === 'true' || text?.toLowerCase() === 'false') return { type, value: text.toLowerCase() === 'true' };
      throw cannot();
    case 'DATETIME': {
      if (value instanceof Date && !Number.isNaN(value.getTime())) return { type, value: instantText(value) };
      const instant = text === undefined ? undefined : parseKvDateTime(text);
      if (instant === undefined) throw cannot();
      return { type, value: instant };
    }
    case 'DATE': {
      const date = text === undefined ? undefined : (parseKvDate(text) ?? parseKvDateTime(text)?.slice(0, 10));
      if (date === undefined) throw cannot();
      return { type, value: date };
    }
    case 'DURATION': {
      const duration = text === undefined ? undefined : parseKvDuration(text);
      if (duration === undefined) throw cannot();
      return { type, value: duration };
    }
    case 'JSON':
      if (typeof value === 'string') {
        try {
          return { type, value: JSON.parse(value) as unknown };
        } catch {
          throw cannot();
        }
      }
      if (value === undefined) throw cannot();
      return { type, value: value === null ? null : typeof value === 'object' ? toJson(value) : value };
  }
}

const TYPE_HINTS: Record<KvType, string> = {
  STRING: '',
  NUMBER: ' (a number such as 42 or 1.5)',
  BOOLEAN: ' (true or false)',
  DATETIME: ' (an ISO date-time with an offset such as 2024-01-01T10:00:00Z)',
  DATE: ' (an ISO date such as 2024-01-01)',
  DURATION: ' (an ISO-8601 duration such as PT5M or P1D)',
  JSON: ' (a JSON document)',
};

const ION_SYMBOL = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const ION_NUMBER = /^-?(0|[1-9]\d*)(\.\d*)?([eEdD][-+]?\d+)?$/;

/**
 * A `PUT /namespaces/{ns}/kv/{key}` body typed as Kestra types it (it parses the body as ION): a quoted text is a
 * STRING (a DURATION when it is an ISO duration, `"PT5S"`), a bare word (an ION symbol, `hello`) a STRING, `1` or
 * `1.5` a NUMBER, `true`/`false` a BOOLEAN, `2021-09-01` a DATE, `2021-09-01T01:02:03Z` a DATETIME, and a JSON object
 * or list a JSON. Surrounding white space is ignored.
 *
 * @throws SluiceError `SLU_KV_INVALID_VALUE` for an empty body, `null`, or anything else.
 */
export function parseKvBody(body: string): KvValue {
  const text = body.trim();
  if (text === '') throw invalidValue('the body is empty: send the value (a quoted text, a number, true, a date, a JSON object...)');
  const first = text[0];
  if (first === '"') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw invalidValue(`the body starts with a quote but is not one quoted text: ${preview(text)}`);
    }
    return kvValueOf(parsed);
  }
  if (first === "'") {
    const symbol = /^'([^'\\\n]*)'$/.exec(text);
    if (!symbol) throw invalidValue(`the body is not one quoted text: ${preview(text)}`);
    return { type: 'STRING', value: symbol[1] };
  }
  if (first === '{' || first === '[') {
    try {
      return { type: 'JSON', value: JSON.parse(text) as unknown };
    } catch (error) {
      throw invalidValue(`the body is not a JSON ${first === '{' ? 'object' : 'list'}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (text === 'true' || text === 'false') return { type: 'BOOLEAN', value: text === 'true' };
  if (text === 'null' || text.startsWith('null.')) throw invalidValue('null cannot be stored: delete the key instead');
  if (ION_NUMBER.test(text)) {
    const number = Number(text.replace(/[dD]/, 'e'));
    if (!Number.isFinite(number)) throw invalidValue(`${preview(text)} is too large a number`);
    return { type: 'NUMBER', value: number };
  }
  const date = parseKvDate(text.replace(/T$/, ''));
  if (date !== undefined) return { type: 'DATE', value: date };
  const instant = parseKvDateTime(text);
  if (instant !== undefined) return { type: 'DATETIME', value: instant };
  if (ION_SYMBOL.test(text)) return { type: 'STRING', value: text };
  throw invalidValue(
    `cannot read the body ${preview(text)} as a value: send a quoted text ("hello world"), a number, true or false, ` +
      'a date (2024-01-01), a date-time (2024-01-01T10:00:00Z), a quoted ISO duration ("PT5M") or a JSON object or list',
  );
}

function preview(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
}

/** The size a value counts for: the UTF-8 bytes of its JSON form (a text's quotes and escapes included). */
export function kvValueSize(value: unknown): number {
  const json = JSON.stringify(value) ?? '';
  let bytes = 0;
  for (let i = 0; i < json.length; i++) {
    const code = json.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** @throws SluiceError `SLU_KV_VALUE_TOO_LARGE` when the value is over {@link KV_VALUE_MAX_BYTES}. */
export function assertKvValueSize(key: string, value: unknown): void {
  const size = kvValueSize(value);
  if (size > KV_VALUE_MAX_BYTES) throw new SluiceError('SLU_KV_VALUE_TOO_LARGE', { key, size, max: KV_VALUE_MAX_BYTES }, { key, size, max: KV_VALUE_MAX_BYTES });
}

/**
 * A TTL (`ttl` header, the `ttl` property) in milliseconds: an ISO-8601 duration, more than zero.
 * @throws SluiceError `SLU_KV_INVALID_TTL`.
 */
export function parseKvTtl(ttl: string): number {
  let ms: number;
  try {
    ms = parseDuration(ttl.trim());
  } catch (error) {
    throw new SluiceError('SLU_KV_INVALID_TTL', { ttl, reason: error instanceof SluiceError ? String(error.params.reason ?? error.message) : String(error) });
  }
  if (ms <= 0) throw new SluiceError('SLU_KV_INVALID_TTL', { ttl, reason: 'it must be longer than zero' });
  return ms;
}

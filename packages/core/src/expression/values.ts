/**
 * The sandbox's view of values. Templates only ever see data through the functions of this module:
 *
 * - property reads go through {@link getMember}, which reaches own, enumerable data properties of plain objects
 *   and integer indexes of arrays, and nothing else (no prototype, no getter, no method, no function value);
 * - conversions to text ({@link toDisplayString}, {@link toJson}) walk the same own data properties instead of
 *   calling `toString`, `toJSON`, `valueOf` or getters;
 * - comparisons and truthiness ({@link looseCompare}, {@link deepEqual}, {@link toBoolean}) never let JavaScript
 *   coerce an object, so no user-reachable code runs implicitly.
 *
 * Values templates create (lists, maps) are built with {@link createMap} and plain arrays.
 */

import { forbiddenError, limitError, typeError } from './expression-errors.js';

/** Names no template may read, assign or call, whatever the data holds. */
export const FORBIDDEN_NAMES: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);

/**
 * How deep data may nest when it is serialized, compared or deep-rendered. Generous for real documents; it turns
 * a cyclic structure into an error instead of a stack overflow.
 */
export const MAX_DATA_DEPTH = 1000;

/** What {@link getMember} returns for a property or index that does not exist. */
export const ABSENT: unique symbol = Symbol('absent');

/** A map as templates see it: a plain object (prototype `Object.prototype` or `null`). */
export type PlainMap = Record<string, unknown>;

/** Whether `value` is a plain object: an object literal, `JSON.parse` output or `Object.create(null)`. */
export function isPlainObject(value: unknown): value is PlainMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Short type name for error messages: `list`, `map`, `string`, `date`, `object`... */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (isPlainObject(value)) return 'map';
  if (value instanceof Date) return 'date';
  return typeof value;
}

/**
 * Whether awaiting `value` would call code: it has a `then` that is a function or an accessor (own or inherited).
 * The evaluator is async, so such a value must never be handed to it.
 */
function isThenable(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  let current: object | null = value;
  for (; current !== null; current = Object.getPrototypeOf(current) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(current, 'then');
    if (descriptor !== undefined) return !('value' in descriptor) || typeof descriptor.value === 'function';
  }
  return false;
}

/** Refuses what a property may not hold: code (a function) or something awaiting would run code on. */
function inertValue(value: unknown, key: string): unknown {
  if (typeof value === 'function') throw forbiddenError(key);
  if (isThenable(value)) throw forbiddenError(`${key}.then`);
  return value;
}

/**
 * The value of an own, enumerable data property, or {@link ABSENT}. Accessors, non-enumerable properties,
 * function values and thenables are refused: reading them would run or expose code.
 */
export function readOwnData(target: object, key: string): unknown {
  if (FORBIDDEN_NAMES.has(key)) throw forbiddenError(key);
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  if (descriptor === undefined) return ABSENT;
  if (!('value' in descriptor) || !descriptor.enumerable) throw forbiddenError(key);
  return inertValue(descriptor.value, key);
}

/** `key` as an array index when it is an integer (or an integer string), else `null`. */
function toIndex(key: unknown): number | null {
  if (typeof key === 'number') return Number.isInteger(key) ? key : null;
  if (typeof key === 'string' && /^-?\d{1,15}$/.test(key)) return Number(key);
  return null;
}

/**
 * `container[key]` under the sandbox rules, or {@link ABSENT} when the property or index does not exist (or the
 * container is null). Throws `SLU_EXPR_FORBIDDEN` for forbidden names and for anything that is not a plain
 * object or an array: strings, numbers, functions, dates and class instances have no readable properties.
 */
export function getMember(container: unknown, key: unknown): unknown {
  if (typeof key === 'string' && FORBIDDEN_NAMES.has(key)) throw forbiddenError(key);
  if (container === null || container === undefined) return ABSENT;
  if (Array.isArray(container)) {
    const index = toIndex(key);
    if (index === null) throw forbiddenError(describeKey(key));
    if (index < 0 || index >= container.length) return ABSENT;
    const item = readOwnData(container, String(index));
    return item === ABSENT ? null : item;
  }
  if (isPlainObject(container)) {
    if (typeof key === 'string') return readOwnData(container, key);
    if (typeof key === 'number' && Number.isFinite(key)) return readOwnData(container, String(key));
    throw typeError(`a map key must be a string or a number, got ${typeName(key)}`);
  }
  throw forbiddenError(describeKey(key));
}

/** A key as it appears in messages. */
export function describeKey(key: unknown): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number') return String(key);
  return typeName(key);
}

/** `path` followed by `key`, as a template would write it: `a.b`, `a[0]`, `a['x-y']`. */
export function appendPath(path: string, key: unknown): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (typeof key === 'string') {
    return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}['${key.replace(/['\\]/g, '\\$&')}']`;
  }
  return `${path}[${typeName(key)}]`;
}

/**
 * A copy of a list's items read under the sandbox rules (an accessor index is refused, a hole reads as null).
 */
export function listItems(list: readonly unknown[]): unknown[] {
  const items = new Array<unknown>(list.length);
  for (let i = 0; i < list.length; i++) {
    const item = readOwnData(list, String(i));
    items[i] = item === ABSENT ? null : item;
  }
  return items;
}

/**
 * The own enumerable data entries of a map. Keys are listed with `Object.keys`, which runs no code; values are
 * read like {@link readOwnData}, except that keys with a forbidden name are listed (they are inert data here).
 */
export function mapEntries(map: PlainMap): [string, unknown][] {
  const entries: [string, unknown][] = [];
  for (const key of Object.keys(map)) {
    const descriptor = Object.getOwnPropertyDescriptor(map, key) as PropertyDescriptor;
    if (!('value' in descriptor)) throw forbiddenError(key);
    entries.push([key, inertValue(descriptor.value, key)]);
  }
  return entries;
}

/**
 * A new map (an ordinary object) from entries. Properties are defined, not assigned, so no key can reach a
 * setter; forbidden names are refused so the result is safe for callers that later assign it elsewhere.
 */
export function createMap(entries: Iterable<readonly [string, unknown]>): PlainMap {
  const map: PlainMap = {};
  for (const [key, value] of entries) {
    if (FORBIDDEN_NAMES.has(key)) throw forbiddenError(key);
    Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return map;
}

/** A number as Pebble prints it (`-0` prints as `0`). */
export function numberToString(value: number): string {
  return Object.is(value, -0) ? '0' : String(value);
}

/** ISO-8601 of a date, or null for an invalid date; uses the intrinsic so a subclass cannot interfere. */
export function dateToIso(value: Date): string | null {
  const time = Date.prototype.getTime.call(value);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}

/**
 * JSON text of a value, walking only own data (no `toJSON`, no getters). Dates become ISO strings; `undefined`
 * properties are left out like `JSON.stringify` does; functions and other objects are refused.
 *
 * @throws SluiceError `SLU_EXPR_LIMIT` when the text grows past `maxLength` or the data nests too deeply.
 */
export function toJson(value: unknown, maxLength: number): string {
  const parts: string[] = [];
  let length = 0;
  const push = (text: string): void => {
    length += text.length;
    if (length > maxLength) throw limitError('maxOutputLength', maxLength);
    parts.push(text);
  };
  const walk = (current: unknown, depth: number): void => {
    if (depth > MAX_DATA_DEPTH) throw limitError('maxDepth', MAX_DATA_DEPTH);
    if (current === null || current === undefined) return push('null');
    switch (typeof current) {
      case 'string':
        return push(JSON.stringify(current));
      case 'number':
        return push(Number.isFinite(current) ? numberToString(current) : 'null');
      case 'boolean':
        return push(current ? 'true' : 'false');
      case 'bigint':
        return push(current.toString());
      default:
        break;
    }
    if (Array.isArray(current)) {
      push('[');
      listItems(current).forEach((item, index) => {
        if (index > 0) push(',');
        walk(item, depth + 1);
      });
      return push(']');
    }
    if (isPlainObject(current)) {
      push('{');
      let first = true;
      for (const [key, item] of mapEntries(current)) {
        if (item === undefined) continue;
        if (!first) push(',');
        first = false;
        push(JSON.stringify(key) + ':');
        walk(item, depth + 1);
      }
      return push('}');
    }
    if (current instanceof Date) {
      const iso = dateToIso(current);
      return push(iso === null ? 'null' : JSON.stringify(iso));
    }
    throw typeError(`cannot convert a ${typeName(current)} to JSON`);
  };
  walk(value, 0);
  return parts.join('');
}

/**
 * How a value prints in a template: strings as they are, null as nothing, numbers and booleans as text, dates as
 * ISO-8601, lists and maps as JSON (like Kestra).
 */
export function toDisplayString(value: unknown, maxLength: number): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return numberToString(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return dateToIso(value) ?? '';
  if (Array.isArray(value) || isPlainObject(value)) return toJson(value, maxLength);
  throw typeError(`cannot render a ${typeName(value)}`);
}

/**
 * Truthiness in conditions (`if`, `and`, `or`, `not`, `?:`): Pebble's rules (false, 0 and '' are false) plus null
 * as false and lists and maps as true when not empty.
 */
export function toBoolean(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'number':
      return value !== 0 && !Number.isNaN(value);
    case 'string':
      return value !== '';
    case 'bigint':
      return value !== 0n;
    default:
      break;
  }
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  if (value instanceof Date) return true;
  throw typeError(`a condition must be a boolean, number, string, list or map, got ${typeName(value)}`);
}

/** Pebble's `empty`: null, a blank string, an empty list or an empty map. */
export function isEmptyValue(value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) return Object.keys(value).length === 0;
  return false;
}

/**
 * Structural equality: numbers by value, strings, booleans and null by identity, dates by instant, lists and maps
 * element by element (like Java's `equals` on collections). Other objects by reference.
 */
export function deepEqual(a: unknown, b: unknown, depth = 0): boolean {
  if (depth > MAX_DATA_DEPTH) throw limitError('maxDepth', MAX_DATA_DEPTH);
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    const left = listItems(a);
    const right = listItems(b);
    return left.every((item, index) => deepEqual(item, right[index], depth + 1));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const left = mapEntries(a);
    const right = new Map(mapEntries(b));
    if (left.length !== right.size) return false;
    return left.every(([key, item]) => right.has(key) && deepEqual(item, right.get(key), depth + 1));
  }
  if (a instanceof Date && b instanceof Date) {
    return Date.prototype.getTime.call(a) === Date.prototype.getTime.call(b);
  }
  return false;
}

/**
 * Order of two values for `<`, `>`, `<=`, `>=`, `sort`, `min` and `max`: numbers, strings and dates compare
 * within their type. Returns `null` when either side is null (Pebble then answers false to every comparison).
 *
 * @throws SluiceError `SLU_EXPR_TYPE` for any other pair.
 */
export function looseCompare(a: unknown, b: unknown): number | null {
  if (a === null || a === undefined || b === null || b === undefined) return null;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (a instanceof Date && b instanceof Date) {
    return Math.sign(Date.prototype.getTime.call(a) - Date.prototype.getTime.call(b));
  }
  throw typeError(`cannot compare a ${typeName(a)} with a ${typeName(b)}`);
}

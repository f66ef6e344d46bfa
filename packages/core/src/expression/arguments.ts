/**
 * Argument helpers for built-in functions and filters: Pebble lets every argument be given by position or by
 * name, so `date('yyyy', timeZone='UTC')` and `date(format='yyyy', 'UTC')`-style mixes resolve the same way.
 */

import { limitError, typeError } from './expression-errors.js';
import { typeName } from './values.js';
import type { EvalContext } from './types.js';

/** Argument `index` by position, else by `name`, else `undefined`. */
export function argument(
  args: readonly unknown[],
  kwargs: Readonly<Record<string, unknown>>,
  index: number,
  name: string,
): unknown {
  if (index < args.length) return args[index];
  return Object.hasOwn(kwargs, name) ? kwargs[name] : undefined;
}

/** `value` as a string, or a `SLU_EXPR_TYPE` error naming `what`. */
export function requireString(value: unknown, what: string): string {
  if (typeof value !== 'string') throw typeError(`${what} must be a string, got ${typeName(value)}`);
  return value;
}

/** `value` as a string, `fallback` when absent. */
export function optionalString(value: unknown, what: string, fallback: string): string;
export function optionalString(value: unknown, what: string, fallback?: string): string | undefined;
export function optionalString(value: unknown, what: string, fallback?: string): string | undefined {
  return value === undefined || value === null ? fallback : requireString(value, what);
}

/** `value` as a finite number. */
export function requireNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw typeError(`${what} must be a number, got ${typeName(value)}`);
  }
  return value;
}

/** `value` as an integer. */
export function requireInteger(value: unknown, what: string): number {
  const number = requireNumber(value, what);
  if (!Number.isInteger(number)) throw typeError(`${what} must be an integer, got ${number}`);
  return number;
}

/** Throws `SLU_EXPR_LIMIT` when a string or list about to be built would exceed `maxOutputLength`. */
export function ensureSize(size: number, ctx: EvalContext): void {
  if (size > ctx.limits.maxOutputLength) throw limitError('maxOutputLength', ctx.limits.maxOutputLength);
}

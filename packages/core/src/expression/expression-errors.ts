/**
 * Constructors for the errors the expression engine throws, so every call site produces the same codes,
 * parameters and details.
 */

import { SluiceError } from '../errors.js';
import type { ExpressionLimits } from './types.js';

/** 1-based line and column of `offset` in `source`. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(Math.max(offset, 0), source.length);
  for (let i = source.indexOf('\n'); i !== -1 && i < end; i = source.indexOf('\n', i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: end - lineStart + 1 };
}

/** Where in a template an error happened: `{offset, line, column}` for `details`. */
export function locationDetails(source: string, offset: number): Record<string, number> {
  return { offset, ...positionOf(source, offset) };
}

/** `SLU_EXPR_SYNTAX` at `offset` of `source`. */
export function syntaxError(source: string, reason: string, offset: number): SluiceError {
  return new SluiceError('SLU_EXPR_SYNTAX', { reason, offset }, locationDetails(source, offset));
}

/** `SLU_EXPR_LIMIT` for the limit `limit` (a property of {@link ExpressionLimits}). */
export function limitError(
  limit: keyof ExpressionLimits,
  max: number,
  details: Record<string, unknown> = {},
): SluiceError {
  return new SluiceError('SLU_EXPR_LIMIT', { limit, max }, details);
}

/** `SLU_EXPR_TYPE` with a free-form reason. */
export function typeError(reason: string): SluiceError {
  return new SluiceError('SLU_EXPR_TYPE', { reason });
}

/** `SLU_EXPR_FORBIDDEN` naming the property or name that was refused. */
export function forbiddenError(name: string, details: Record<string, unknown> = {}): SluiceError {
  return new SluiceError('SLU_EXPR_FORBIDDEN', { name }, details);
}

/** `SLU_EXPR_UNDEFINED_VARIABLE` naming the full path that does not exist (`inputs.nope`). */
export function undefinedVariableError(name: string): SluiceError {
  return new SluiceError('SLU_EXPR_UNDEFINED_VARIABLE', { name });
}

/** Whether `error` reports an undefined variable (the one error `??`, `default` and `is defined` swallow). */
export function isUndefinedVariableError(error: unknown): error is SluiceError {
  return error instanceof SluiceError && error.code === 'SLU_EXPR_UNDEFINED_VARIABLE';
}

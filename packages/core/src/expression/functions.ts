/**
 * Built-in functions. Anything with side effects or secrets (`secret`, `read`, `kv`...) is not here: the
 * application passes those in `RenderOptions.functions`.
 */

import { argument, requireInteger, requireString } from './arguments.js';
import { limitError, typeError } from './expression-errors.js';
import { hasExpression } from './syntax.js';
import type { EvalContext, ExpressionFunction, ExpressionLimits } from './types.js';
import { dateToIso, listItems, looseCompare, typeName } from './values.js';

/**
 * Inclusive range from `start` to `end` by `step` (Pebble's `range()` and `..`): integers, or single characters
 * (`'a'..'e'`).
 *
 * @throws SluiceError `SLU_EXPR_LIMIT` when it would hold more than `maxRangeSize` elements.
 */
export function makeRange(start: unknown, end: unknown, step: unknown, limits: Readonly<ExpressionLimits>): unknown[] {
  const increment = requireInteger(step, 'range step');
  if (increment === 0) throw typeError('range step must not be 0');
  const chars = typeof start === 'string' && typeof end === 'string' && start.length === 1 && end.length === 1;
  const from = chars ? (start as string).charCodeAt(0) : requireInteger(start, 'range start');
  const to = chars ? (end as string).charCodeAt(0) : requireInteger(end, 'range end');
  const size = Math.max(0, Math.floor((to - from) / increment) + 1);
  if (size > limits.maxRangeSize) throw limitError('maxRangeSize', limits.maxRangeSize);
  const result = new Array<unknown>(size);
  for (let i = 0; i < size; i++) {
    const value = from + i * increment;
    result[i] = chars ? String.fromCharCode(value) : value;
  }
  return result;
}

/** The items `max`/`min` compare: their arguments, or the items of a single list argument. */
function candidates(args: readonly unknown[]): unknown[] {
  const [only] = args;
  return args.length === 1 && Array.isArray(only) ? listItems(only) : [...args];
}

function extreme(args: readonly unknown[], sign: 1 | -1): unknown {
  let best: unknown = null;
  for (const item of candidates(args)) {
    if (item === null || item === undefined) continue;
    if (best === null || (looseCompare(item, best) as number) * sign > 0) best = item;
  }
  return best;
}

async function render(args: unknown[], kwargs: Record<string, unknown>, ctx: EvalContext): Promise<unknown> {
  const source = argument(args, kwargs, 0, 'template');
  if (typeof source !== 'string') return source ?? null;
  const recursive = argument(args, kwargs, 1, 'recursive') === true;
  let output = await ctx.render(source);
  // Recursive rendering stops once the output no longer changes or holds no expression, within maxDepth rounds.
  for (let round = 1; recursive && hasExpression(output) && round < ctx.limits.maxDepth; round++) {
    const next = await ctx.render(output);
    if (next === output) break;
    output = next;
  }
  return output;
}

function fromJson(args: unknown[], kwargs: Record<string, unknown>): unknown {
  const input = argument(args, kwargs, 0, 'json');
  if (input === null || input === undefined) return null;
  try {
    return JSON.parse(requireString(input, 'fromJson input')) as unknown;
  } catch (error) {
    if (error instanceof SyntaxError) throw typeError(`fromJson: invalid JSON (${error.message})`);
    throw error;
  }
}

function now(_args: unknown[], _kwargs: Record<string, unknown>, ctx: EvalContext): string {
  const date = ctx.now();
  const iso = date instanceof Date ? dateToIso(date) : null;
  if (iso === null) throw typeError(`now: the clock returned ${typeName(date)}, not a valid date`);
  return iso;
}

const functions: [string, ExpressionFunction][] = [
  ['fromJson', fromJson],
  ['max', (args) => extreme(args, 1)],
  ['min', (args) => extreme(args, -1)],
  ['now', now],
  [
    'range',
    (args, kwargs, ctx) => {
      const step = argument(args, kwargs, 2, 'increment') ?? 1;
      return makeRange(argument(args, kwargs, 0, 'start'), argument(args, kwargs, 1, 'end'), step, ctx.limits);
    },
  ],
  ['render', render],
];

/** The built-in functions by name. */
export const BUILTIN_FUNCTIONS: ReadonlyMap<string, ExpressionFunction> = new Map(functions);

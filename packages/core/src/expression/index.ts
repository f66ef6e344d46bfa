/**
 * Sandboxed, Pebble-compatible templates and expressions for Kestra-style flows: `{{ inputs.name | upper }}`,
 * `{% if %}`, `{% for %}`, `{% set %}`, strict variables, Kestra's `??` and `???`.
 *
 * Templates are data-only: they read own data properties of plain objects and arrays, call only whitelisted
 * functions and filters, and run under work limits. See `evaluator.ts` for how the sandbox works.
 */

import type { Expr, Template, TemplateNode } from './ast.js';
import { limitError, typeError } from './expression-errors.js';
import { createRuntime, Evaluator, type Runtime } from './evaluator.js';
import { BUILTIN_FILTERS } from './filters.js';
import { BUILTIN_FUNCTIONS } from './functions.js';
import { parseExpressionSource, parseTemplateSource, TEST_NAMES } from './parser.js';
import { hasExpression } from './syntax.js';
import { DEFAULT_LIMITS, type RenderOptions } from './types.js';
import { isPlainObject, MAX_DATA_DEPTH, typeName } from './values.js';

export type { Template, TemplateNode } from './ast.js';
export type { EvalContext, ExpressionFilter, ExpressionFunction, ExpressionLimits, RenderOptions } from './types.js';
export { DEFAULT_LIMITS as DEFAULT_EXPRESSION_LIMITS } from './types.js';
export { hasExpression } from './syntax.js';

/** Names of the built-in filters, for docs and validation. */
export const builtinFilters: readonly string[] = Object.freeze([...BUILTIN_FILTERS.keys()].sort());

/** Names of the built-in functions, for docs and validation. */
export const builtinFunctions: readonly string[] = Object.freeze([...BUILTIN_FUNCTIONS.keys()].sort());

/** Names of the tests usable after `is` / `is not`. */
export const builtinTests: readonly string[] = Object.freeze([...TEST_NAMES].sort());

/** Options of {@link parseTemplate}. */
export interface ParseTemplateOptions {
  /** Maximum nesting depth (defaults to `DEFAULT_EXPRESSION_LIMITS.maxDepth`). */
  maxDepth?: number;
}

/**
 * Parse a template once to render it many times.
 *
 * @throws SluiceError `SLU_EXPR_SYNTAX` with `{reason, offset}` and details `{offset, line, column}` (1-based,
 *   within `source`); `SLU_EXPR_FORBIDDEN` for a forbidden name (`constructor`, `__proto__`...) or method-call
 *   syntax (`a.b()`); `SLU_EXPR_LIMIT` when nesting exceeds `maxDepth`.
 */
export function parseTemplate(source: string, options: ParseTemplateOptions = {}): Template {
  if (typeof source !== 'string') throw typeError(`a template must be a string, got ${typeName(source)}`);
  return parseTemplateSource(source, options.maxDepth ?? DEFAULT_LIMITS.maxDepth);
}

function asTemplate(source: string | Template, runtime: Runtime): Template {
  if (typeof source === 'string') return parseTemplateSource(source, runtime.limits.maxDepth);
  const valid = typeof source === 'object' && source !== null && Array.isArray(source.nodes);
  if (!valid || typeof source.source !== 'string') {
    throw typeError(`expected a template string or a parsed Template, got ${typeName(source)}`);
  }
  return source;
}

/**
 * Render a template to a string. Values print as Kestra prints them: strings as is, null as nothing, lists and
 * maps as JSON.
 *
 * @throws SluiceError `SLU_EXPR_*`: syntax errors as {@link parseTemplate}; `SLU_EXPR_UNDEFINED_VARIABLE`
 *   naming the full path (`undefined variable: inputs.nope`); `SLU_EXPR_UNDEFINED_FUNCTION`/`_FILTER`;
 *   `SLU_EXPR_FORBIDDEN`; `SLU_EXPR_TYPE`; `SLU_EXPR_LIMIT`; `SLU_EXPR_FUNCTION_FAILED` when a supplied
 *   function throws something other than a SluiceError (a SluiceError it throws propagates unchanged). Errors
 *   raised while evaluating carry `{offset, line, column}` of the tag or `{{ }}` in `details`.
 */
export async function renderTemplate(
  source: string | Template,
  context: Record<string, unknown>,
  options: RenderOptions = {},
): Promise<string> {
  const runtime = createRuntime(context, options);
  const template = asTemplate(source, runtime);
  return new Evaluator(runtime, template.source, 0).render(template.nodes);
}

/** The expression of a template that is exactly one `{{ ... }}` (whitespace around allowed), else null. */
function singlePrint(nodes: readonly TemplateNode[]): Expr | null {
  const meaningful = nodes.filter((node) => node.type !== 'text' || node.value.trim() !== '');
  const [only] = meaningful;
  return meaningful.length === 1 && only?.type === 'print' ? only.expr : null;
}

/**
 * Evaluate a bare expression (`inputs.x == 'a'`, `outputs.t.vars.count > 3`) and return its value, not text.
 * As a convenience, a string that starts with a delimiter is treated as a template: exactly one `{{ expr }}`
 * yields the raw value of `expr`, anything else the rendered string.
 *
 * @throws SluiceError like {@link renderTemplate}.
 */
export async function evaluateExpression(
  expression: string,
  context: Record<string, unknown>,
  options: RenderOptions = {},
): Promise<unknown> {
  const runtime = createRuntime(context, options);
  if (typeof expression !== 'string') throw typeError(`an expression must be a string, got ${typeName(expression)}`);
  if (/^\s*\{[{%#]/.test(expression)) {
    const template = parseTemplateSource(expression, runtime.limits.maxDepth);
    const evaluator = new Evaluator(runtime, expression, 0);
    const expr = singlePrint(template.nodes);
    return expr === null ? evaluator.render(template.nodes) : evaluator.value(expr);
  }
  const expr = parseExpressionSource(expression, runtime.limits.maxDepth);
  return new Evaluator(runtime, expression, 0).value(expr);
}

/**
 * Deep-render a value: every string inside arrays and plain objects that contains a delimiter is rendered as a
 * template; other values (numbers, booleans, null, dates, class instances) and map keys are left alone. Returns
 * new arrays and objects; the input is not modified. All strings share one step budget.
 *
 * @throws SluiceError like {@link renderTemplate}.
 */
export async function renderValue(
  value: unknown,
  context: Record<string, unknown>,
  options: RenderOptions = {},
): Promise<unknown> {
  const runtime = createRuntime(context, options);
  const walk = async (current: unknown, depth: number): Promise<unknown> => {
    if (depth > MAX_DATA_DEPTH) throw limitError('maxDepth', MAX_DATA_DEPTH);
    if (typeof current === 'string') {
      if (!hasExpression(current)) return current;
      const template = parseTemplateSource(current, runtime.limits.maxDepth);
      return new Evaluator(runtime, current, 0).render(template.nodes);
    }
    if (!Array.isArray(current) && !isPlainObject(current)) return current;
    const result: object = Array.isArray(current) ? new Array<unknown>(current.length) : {};
    // Descriptors rather than reads: getters are copied, never invoked.
    for (const key of Object.keys(current)) {
      const descriptor = Object.getOwnPropertyDescriptor(current, key) as PropertyDescriptor;
      if ('value' in descriptor) descriptor.value = await walk(descriptor.value, depth + 1);
      Object.defineProperty(result, key, { ...descriptor, configurable: true });
    }
    return result;
  };
  return walk(value, 0);
}

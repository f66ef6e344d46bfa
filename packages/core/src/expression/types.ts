/**
 * Types shared by the expression engine: options, limits and the context handed to functions and filters.
 */

/**
 * Work limits of one render. Every limit stops the render with `SLU_EXPR_LIMIT` `{limit, max}`, where `limit` is
 * the property name below.
 */
export interface ExpressionLimits {
  /**
   * Evaluation steps: one per evaluated node, loop iteration and output chunk, plus one per 100 characters or list
   * items a string or list operation produces. Shared by nested `render()` calls.
   */
  maxSteps: number;
  /** Length of the rendered string, and of any string or list an operator, filter or function produces. */
  maxOutputLength: number;
  /** Iterations of one `{% for %}` loop. */
  maxLoopIterations: number;
  /** Nesting depth: parentheses, lists, maps, arguments, tags, data while serializing, and `render()` recursion. */
  maxDepth: number;
  /** Number of elements a range (`a..b`, `range(a, b)`) may produce. */
  maxRangeSize: number;
}

/** Limits used when {@link RenderOptions.limits} leaves one out. */
export const DEFAULT_LIMITS: Readonly<ExpressionLimits> = Object.freeze({
  maxSteps: 100_000,
  maxOutputLength: 1_000_000,
  maxLoopIterations: 10_000,
  maxDepth: 64,
  maxRangeSize: 100_000,
});

/**
 * What a function or filter sees of the render that calls it.
 */
export interface EvalContext {
  /** The limits of this render. */
  readonly limits: Readonly<ExpressionLimits>;
  /** How many `render()` calls deep this evaluation is (0 for the template itself). */
  readonly renderDepth: number;
  /** The clock: `options.now` or the system clock. */
  now(): Date;
  /**
   * Render another template with the same variables (including loop variables in scope), functions, filters and
   * limits. Counts toward the same step budget and one level of `maxDepth`.
   */
  render(source: string): Promise<string>;
}

/** A function callable from templates as `name(arg, key=value)`. May be async. */
export type ExpressionFunction = (args: unknown[], kwargs: Record<string, unknown>, ctx: EvalContext) => unknown;

/** A filter callable from templates as `input | name(arg, key=value)`. May be async. */
export type ExpressionFilter = (
  input: unknown,
  args: unknown[],
  kwargs: Record<string, unknown>,
  ctx: EvalContext,
) => unknown;

/** Options of {@link renderTemplate}, {@link evaluateExpression} and {@link renderValue}. */
export interface RenderOptions {
  /**
   * Extra functions (`secret`, `read`, `kv`...): the whitelist of what templates may call besides the built-ins.
   * A name given here replaces the built-in of the same name.
   */
  functions?: Record<string, ExpressionFunction>;
  /** Extra filters; a name given here replaces the built-in of the same name. */
  filters?: Record<string, ExpressionFilter>;
  /** Overrides of {@link DEFAULT_LIMITS}. */
  limits?: Partial<ExpressionLimits>;
  /** The clock used by `now()`; defaults to the system clock. */
  now?: () => Date;
}

/** `DEFAULT_LIMITS` overridden by the non-negative numbers of `limits`. */
export function resolveLimits(limits: Partial<ExpressionLimits> | undefined): Readonly<ExpressionLimits> {
  const resolved: ExpressionLimits = { ...DEFAULT_LIMITS };
  if (limits) {
    for (const key of Object.keys(DEFAULT_LIMITS) as (keyof ExpressionLimits)[]) {
      const value = limits[key];
      if (typeof value === 'number' && value >= 0) resolved[key] = value;
    }
  }
  return Object.freeze(resolved);
}

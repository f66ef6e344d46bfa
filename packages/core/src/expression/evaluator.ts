/**
 * The async tree-walking evaluator.
 *
 * How the sandbox works. A template can only:
 *
 * 1. read variables: the loop and `set` scopes (plain `Map`s), then the render context, where only own,
 *    enumerable data properties count (`readOwnData`);
 * 2. read properties of values with `.name` / `[key]`: `getMember` allows own enumerable data properties of plain
 *    objects and integer indexes of arrays, and refuses everything else with `SLU_EXPR_FORBIDDEN` (strings,
 *    numbers, functions, dates, class instances, accessors, function values, and the names `__proto__`,
 *    `constructor`, `prototype` whatever the data holds);
 * 3. call functions and filters by name: built-ins and the application's whitelists, looked up with `Object.hasOwn`
 *    so `toString` or `constructor` never resolve to `Object.prototype` members. There is no call syntax on
 *    values (`a.b()` is refused by the parser);
 * 4. combine values with operators that are defined on data only and never let JavaScript coerce an object (no
 *    `valueOf`/`toString`/`toJSON`/getter runs; see `values.ts`);
 * 5. create lists and maps, which are plain arrays and ordinary objects built with `defineProperty`.
 *
 * No code is generated or evaluated, nothing is assigned to objects the template did not create, and every
 * unit of work is metered: each node and loop iteration is a step, and strings, lists and maps that built-in
 * operations consume or produce cost steps by size, so the total work of a render is bounded by `maxSteps`
 * whatever the size of the data; loops, ranges, output and nesting have their own bounds (`ExpressionLimits`).
 */

import { SluiceError } from '../errors.js';
import type { Arguments, BinaryOperator, ChainExpr, Expr, Link, TemplateNode, TestName } from './ast.js';
import {
  forbiddenError,
  isUndefinedVariableError,
  limitError,
  locationDetails,
  typeError,
  undefinedVariableError,
} from './expression-errors.js';
import { BUILTIN_FILTERS } from './filters.js';
import { BUILTIN_FUNCTIONS, makeRange } from './functions.js';
import { parseTemplateSource } from './parser.js';
import type { EvalContext, ExpressionFilter, ExpressionFunction, ExpressionLimits, RenderOptions } from './types.js';
import { resolveLimits } from './types.js';
import {
  ABSENT,
  FORBIDDEN_NAMES,
  appendPath,
  createMap,
  deepEqual,
  getMember,
  isEmptyValue,
  isPlainObject,
  listItems,
  looseCompare,
  mapEntries,
  readOwnData,
  toBoolean,
  toDisplayString,
  typeName,
} from './values.js';

/** A string consumed or produced by an operation costs one step per this many characters. */
const CHARS_PER_STEP = 100;
/** A list or map consumed or produced by an operation costs one step per this many items (copies are per item). */
const ITEMS_PER_STEP = 10;

/** State shared by a render and the nested renders of its `render()` calls. */
export interface Runtime {
  readonly root: object;
  readonly functions: Readonly<Record<string, ExpressionFunction>> | undefined;
  readonly filters: Readonly<Record<string, ExpressionFilter>> | undefined;
  readonly limits: Readonly<ExpressionLimits>;
  readonly now: () => Date;
  steps: number;
}

/** A runtime for `context` and `options` (validated). */
export function createRuntime(context: unknown, options: RenderOptions = {}): Runtime {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw typeError(`the render context must be a map, got ${typeName(context)}`);
  }
  return {
    root: context,
    functions: options.functions,
    filters: options.filters,
    limits: resolveLimits(options.limits),
    now: options.now ?? (() => new Date()),
    steps: 0,
  };
}

/** Variables assigned by `set` and loops; the render context sits below the outermost scope. */
class Scope {
  readonly vars = new Map<string, unknown>();

  constructor(readonly parent: Scope | null) {}

}

/** The innermost scope from `start` outwards that holds `name`. */
function findScope(start: Scope, name: string): Scope | null {
  for (let scope: Scope | null = start; scope !== null; scope = scope.parent) {
    if (scope.vars.has(name)) return scope;
  }
  return null;
}

/** The input of a lenient link (`??`, `default`, `is defined`) when its left side named something undefined. */
class Missing {
  constructor(readonly path: string) {}
}

/** Rendered text, bounded by `maxOutputLength`. */
class Output {
  private readonly parts: string[] = [];
  private length = 0;

  constructor(private readonly max: number) {}

  append(text: string): void {
    this.length += text.length;
    if (this.length > this.max) throw limitError('maxOutputLength', this.max);
    this.parts.push(text);
  }

  toString(): string {
    return this.parts.join('');
  }
}

/** A callable found by name, and whether the application supplied it. */
interface Callable<T> {
  readonly fn: T;
  readonly supplied: boolean;
}

/** A user-defined or built-in callable by name; `Object.hasOwn` keeps prototype members out. */
function lookup<T>(
  custom: Readonly<Record<string, T>> | undefined,
  builtins: ReadonlyMap<string, T>,
  name: string,
): Callable<T> | undefined {
  if (FORBIDDEN_NAMES.has(name)) return undefined;
  if (custom !== undefined && Object.hasOwn(custom, name)) {
    const descriptor = Object.getOwnPropertyDescriptor(custom, name);
    if (descriptor === undefined || typeof descriptor.value !== 'function') return undefined;
    return { fn: descriptor.value as T, supplied: true };
  }
  const builtin = builtins.get(name);
  return builtin === undefined ? undefined : { fn: builtin, supplied: false };
}

/** SluiceErrors thrown by supplied functions: they propagate exactly as thrown, without location details. */
const foreignErrors = new WeakSet<SluiceError>();

function reasonOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'unknown error';
}

/** Whether a link accepts an undefined left side (which then arrives as `Missing`). */
function acceptsMissing(link: Link | undefined): boolean {
  if (link === undefined) return false;
  switch (link.kind) {
    case 'binary':
      return link.op === '??' || link.op === '???';
    case 'filter':
      return link.name === 'default';
    case 'test':
      return link.name === 'defined' || link.name === 'null';
  }
}

function numberOperand(value: unknown, op: string): number {
  if (typeof value !== 'number') throw typeError(`operator '${op}' expects numbers, got ${typeName(value)}`);
  return value;
}

/** Evaluates one template (one per `render()` level) against a shared {@link Runtime}. */
export class Evaluator {
  constructor(
    private readonly runtime: Runtime,
    private readonly source: string,
    private readonly renderDepth: number,
  ) {}

  /** Render `nodes` into a string, in a fresh scope below `parent`. */
  async render(nodes: readonly TemplateNode[], parent: Scope | null = null): Promise<string> {
    const output = new Output(this.runtime.limits.maxOutputLength);
    await this.renderNodes(nodes, new Scope(parent), output);
    return output.toString();
  }

  /** Evaluate a bare expression in a fresh scope. */
  async value(expr: Expr): Promise<unknown> {
    return this.evaluate(expr, new Scope(null));
  }

  // ---- metering

  private step(count = 1): void {
    this.runtime.steps += count;
    if (this.runtime.steps > this.runtime.limits.maxSteps) {
      throw limitError('maxSteps', this.runtime.limits.maxSteps);
    }
  }

  /** Steps a value costs to walk or build. */
  private cost(value: unknown): number {
    if (typeof value === 'string') return Math.floor(value.length / CHARS_PER_STEP);
    if (Array.isArray(value)) return Math.floor(value.length / ITEMS_PER_STEP);
    if (isPlainObject(value)) return Math.floor(Object.keys(value).length / ITEMS_PER_STEP);
    return 0;
  }

  /** Charge the values a built-in operation is about to walk or copy. */
  private consume(...values: unknown[]): void {
    const steps = values.reduce<number>((sum, value) => sum + this.cost(value), 0);
    if (steps > 0) this.step(steps);
  }

  /**
   * Charge a produced value by size; when `bounded`, refuse strings and lists longer than `maxOutputLength`
   * (supplied functions are exempt: what they return is the application's data).
   */
  private produce<T>(value: T, bounded = true): T {
    const { maxOutputLength } = this.runtime.limits;
    if (bounded && (typeof value === 'string' || Array.isArray(value)) && value.length > maxOutputLength) {
      throw limitError('maxOutputLength', maxOutputLength);
    }
    this.consume(value);
    return value;
  }

  /** Adds where the error happened, for errors of the outermost template that do not say yet. */
  private locate(error: unknown, offset: number): unknown {
    const ours = error instanceof SluiceError && !foreignErrors.has(error);
    if (this.renderDepth === 0 && ours && !('offset' in error.details)) {
      Object.assign(error.details, locationDetails(this.source, offset));
    }
    return error;
  }

  // ---- template nodes

  private async renderNodes(nodes: readonly TemplateNode[], scope: Scope, output: Output): Promise<void> {
    for (const node of nodes) {
      this.step();
      if (node.type === 'text') {
        output.append(node.value);
        continue;
      }
      try {
        await this.renderNode(node, scope, output);
      } catch (error) {
        throw this.locate(error, node.offset);
      }
    }
  }

  private async renderNode(node: Exclude<TemplateNode, { type: 'text' }>, scope: Scope, output: Output): Promise<void> {
    switch (node.type) {
      case 'print': {
        const value = await this.evaluate(node.expr, scope);
        output.append(toDisplayString(value, this.runtime.limits.maxOutputLength));
        return;
      }
      case 'if': {
        for (const branch of node.branches) {
          if (toBoolean(await this.evaluate(branch.test, scope))) {
            await this.renderNodes(branch.body, scope, output);
            return;
          }
        }
        if (node.otherwise !== null) await this.renderNodes(node.otherwise, scope, output);
        return;
      }
      case 'for': {
        const iterable = await this.evaluate(node.iterable, scope);
        const entries = this.iterationEntries(iterable);
        if (entries.length === 0) {
          if (node.otherwise !== null) await this.renderNodes(node.otherwise, scope, output);
          return;
        }
        const loopScope = new Scope(scope);
        const isMap = !Array.isArray(iterable);
        const length = entries.length;
        for (let index = 0; index < length; index++) {
          this.step();
          const [key, value] = entries[index] as [unknown, unknown];
          if (node.keyName !== null) {
            loopScope.vars.set(node.keyName, key);
            loopScope.vars.set(node.valueName, value);
          } else {
            // A single variable over a map sees Pebble's entries: `entry.key`, `entry.value`.
            loopScope.vars.set(node.valueName, isMap ? createMap([['key', key], ['value', value]]) : value);
          }
          loopScope.vars.set(
            'loop',
            createMap([
              ['index', index],
              ['revindex', length - index - 1],
              ['first', index === 0],
              ['last', index === length - 1],
              ['length', length],
            ]),
          );
          await this.renderNodes(node.body, loopScope, output);
        }
        return;
      }
      case 'set': {
        if (FORBIDDEN_NAMES.has(node.name)) throw forbiddenError(node.name);
        const value = await this.evaluate(node.value, scope);
        (findScope(scope, node.name) ?? scope).vars.set(node.name, value);
        return;
      }
    }
  }

  /**
   * `[key, value]` pairs to loop over: `[index, item]` for a list, `[key, value]` for a map, none for null. The
   * size is checked against `maxLoopIterations` before anything is copied.
   */
  private iterationEntries(iterable: unknown): [unknown, unknown][] {
    if (iterable === null || iterable === undefined) return [];
    const isList = Array.isArray(iterable);
    if (!isList && !isPlainObject(iterable)) throw typeError(`cannot iterate over a ${typeName(iterable)}`);
    const { maxLoopIterations } = this.runtime.limits;
    const size = isList ? iterable.length : Object.keys(iterable).length;
    if (size > maxLoopIterations) throw limitError('maxLoopIterations', maxLoopIterations);
    this.consume(iterable);
    return isList ? listItems(iterable).map((item, index) => [index, item]) : mapEntries(iterable);
  }

  // ---- expressions

  private async evaluate(expr: Expr, scope: Scope): Promise<unknown> {
    try {
      return await this.evaluateNode(expr, scope);
    } catch (error) {
      throw this.locate(error, expr.offset);
    }
  }

  private async evaluateNode(expr: Expr, scope: Scope): Promise<unknown> {
    this.step();
    switch (expr.type) {
      case 'literal':
        return expr.value;
      case 'variable':
        return this.variable(expr.name, scope);
      case 'access': {
        let value = await this.evaluate(expr.base, scope);
        let path = expr.baseText;
        for (const segment of expr.segments) {
          this.step();
          const key = segment.kind === 'name' ? segment.name : await this.evaluate(segment.key, scope);
          const next = getMember(value, key);
          path = segment.kind === 'name' ? `${path}.${segment.name}` : appendPath(path, key);
          if (next === ABSENT) throw undefinedVariableError(path);
          value = next;
        }
        return value;
      }
      case 'list': {
        const items: unknown[] = [];
        for (const item of expr.items) items.push(await this.evaluate(item, scope));
        return this.produce(items);
      }
      case 'map': {
        const entries: [string, unknown][] = [];
        for (const entry of expr.entries) {
          const key = await this.evaluate(entry.key, scope);
          if (typeof key !== 'string' && typeof key !== 'number') {
            throw typeError(`a map key must be a string or a number, got ${typeName(key)}`);
          }
          entries.push([String(key), await this.evaluate(entry.value, scope)]);
        }
        return createMap(entries);
      }
      case 'interpolation': {
        let text = '';
        for (const part of expr.parts) {
          text += toDisplayString(await this.evaluate(part, scope), this.runtime.limits.maxOutputLength);
          this.produce(text);
        }
        return text;
      }
      case 'call':
        return this.call(expr.name, expr.args, scope);
      case 'unary': {
        const operand = await this.evaluate(expr.operand, scope);
        if (expr.op === 'not') return !toBoolean(operand);
        const number = numberOperand(operand, expr.op);
        return expr.op === '-' ? -number : number;
      }
      case 'chain':
        return this.chain(expr, scope);
      case 'ternary':
        return toBoolean(await this.evaluate(expr.test, scope))
          ? this.evaluate(expr.then, scope)
          : this.evaluate(expr.otherwise, scope);
      /* v8 ignore next 2 -- unreachable for trees built by the parser */
      default:
        throw typeError(`unknown expression node ${typeName(expr)}`);
    }
  }

  private variable(name: string, scope: Scope): unknown {
    if (FORBIDDEN_NAMES.has(name)) throw forbiddenError(name);
    const holder = findScope(scope, name);
    if (holder !== null) return holder.vars.get(name);
    const value = readOwnData(this.runtime.root, name);
    if (value === ABSENT) throw undefinedVariableError(name);
    return value;
  }

  private async arguments(args: Arguments, scope: Scope): Promise<[unknown[], Record<string, unknown>]> {
    const positional: unknown[] = [];
    for (const arg of args.positional) positional.push(await this.evaluate(arg, scope));
    // Null prototype: a function reading `kwargs.toString` must not find Object.prototype's.
    const named = Object.create(null) as Record<string, unknown>;
    for (const arg of args.named) named[arg.name] = await this.evaluate(arg.value, scope);
    return [positional, named];
  }

  private context(scope: Scope): EvalContext {
    return {
      limits: this.runtime.limits,
      renderDepth: this.renderDepth,
      now: this.runtime.now,
      render: (source: string) => this.renderNested(source, scope),
    };
  }

  private async renderNested(source: unknown, scope: Scope): Promise<string> {
    if (typeof source !== 'string') throw typeError(`render expects a template string, got ${typeName(source)}`);
    const { maxDepth } = this.runtime.limits;
    if (this.renderDepth + 1 > maxDepth) throw limitError('maxDepth', maxDepth);
    this.consume(source);
    const template = parseTemplateSource(source, maxDepth);
    return new Evaluator(this.runtime, source, this.renderDepth + 1).render(template.nodes, scope);
  }

  /**
   * Runs a function or filter; failures other than Sluice errors become `SLU_EXPR_FUNCTION_FAILED`. Built-ins
   * are charged for the data they receive, since they may walk or copy all of it.
   */
  private async invoke(name: string, supplied: boolean, inputs: unknown[], run: () => unknown): Promise<unknown> {
    if (!supplied) this.consume(...inputs);
    let result: unknown;
    try {
      result = await run();
    } catch (error) {
      if (error instanceof SluiceError) {
        if (supplied) foreignErrors.add(error);
        throw error;
      }
      throw new SluiceError('SLU_EXPR_FUNCTION_FAILED', { name, reason: reasonOf(error) }, {}, { cause: error });
    }
    return this.produce(result, !supplied);
  }

  private async call(name: string, args: Arguments, scope: Scope): Promise<unknown> {
    const callable = lookup(this.runtime.functions, BUILTIN_FUNCTIONS, name);
    if (callable === undefined) throw new SluiceError('SLU_EXPR_UNDEFINED_FUNCTION', { name });
    const [positional, named] = await this.arguments(args, scope);
    const inputs = [...positional, ...Object.values(named)];
    return this.invoke(name, callable.supplied, inputs, () => callable.fn(positional, named, this.context(scope)));
  }

  // ---- chains

  /**
   * `head link1 link2...` left to right. When a link accepts an undefined left side (`??`, `???`, `default`,
   * `is defined`, `is null`), the step before it runs leniently: an undefined-variable error anywhere in it turns
   * into a `Missing` value instead (Pebble's and Kestra's behaviour for nested expressions).
   */
  private async chain(expr: ChainExpr, scope: Scope): Promise<unknown> {
    const { links } = expr;
    let value = await this.guarded(() => this.evaluate(expr.head, scope), acceptsMissing(links[0]));
    for (let i = 0; i < links.length; i++) {
      this.step();
      const link = links[i] as Link;
      const input = value;
      const apply = (): Promise<unknown> =>
        this.applyLink(link, input, scope).catch((error: unknown) => Promise.reject(this.locate(error, link.offset)));
      value = await this.guarded(apply, acceptsMissing(links[i + 1]));
    }
    return value;
  }

  private async guarded(run: () => Promise<unknown>, lenient: boolean): Promise<unknown> {
    if (!lenient) return run();
    try {
      return await run();
    } catch (error) {
      if (isUndefinedVariableError(error)) return new Missing(String(error.params.name));
      throw error;
    }
  }

  private async applyLink(link: Link, input: unknown, scope: Scope): Promise<unknown> {
    switch (link.kind) {
      case 'test':
        return this.test(link.name, input) !== link.negated;
      case 'filter': {
        const filter = lookup(this.runtime.filters, BUILTIN_FILTERS, link.name);
        if (filter === undefined) throw new SluiceError('SLU_EXPR_UNDEFINED_FILTER', { name: link.name });
        const [positional, named] = await this.arguments(link.args, scope);
        const value = input instanceof Missing ? undefined : input;
        const inputs = [value, ...positional, ...Object.values(named)];
        return this.invoke(link.name, filter.supplied, inputs, () =>
          filter.fn(value, positional, named, this.context(scope)),
        );
      }
      case 'binary':
        switch (link.op) {
          case 'and':
            return toBoolean(input) && toBoolean(await this.evaluate(link.right, scope));
          case 'or':
            return toBoolean(input) || toBoolean(await this.evaluate(link.right, scope));
          case '??':
            return input instanceof Missing || input === null || input === undefined
              ? this.evaluate(link.right, scope)
              : input;
          case '???':
            return input instanceof Missing ? this.evaluate(link.right, scope) : input;
          default: {
            const right = await this.evaluate(link.right, scope);
            if (link.op !== '..') this.consume(input, right);
            return this.produce(this.binary(link.op, input, right));
          }
        }
    }
  }

  private test(name: TestName, input: unknown): boolean {
    switch (name) {
      case 'defined':
        return !(input instanceof Missing);
      case 'null':
        return input instanceof Missing || input === null || input === undefined;
      case 'empty':
        return isEmptyValue(input);
      case 'even':
      case 'odd': {
        if (typeof input !== 'number' || !Number.isInteger(input)) {
          throw typeError(`'${name}' expects an integer, got ${typeName(input)}`);
        }
        return (Math.abs(input) % 2 === 0) === (name === 'even');
      }
      case 'iterable':
        return Array.isArray(input);
      case 'map':
        return isPlainObject(input);
      case 'json':
        if (typeof input !== 'string') return false;
        this.consume(input);
        try {
          JSON.parse(input);
          return true;
        } catch {
          return false;
        }
    }
  }

  // ---- operators

  private binary(op: Exclude<BinaryOperator, 'and' | 'or' | '??' | '???'>, left: unknown, right: unknown): unknown {
    const { limits } = this.runtime;
    switch (op) {
      case '==':
      case 'equals':
        return deepEqual(left, right);
      case '!=':
        return !deepEqual(left, right);
      case '<':
      case '>':
      case '<=':
      case '>=': {
        const order = looseCompare(left, right);
        if (order === null) return false;
        return op === '<' ? order < 0 : op === '>' ? order > 0 : op === '<=' ? order <= 0 : order >= 0;
      }
      case 'contains':
        return contains(left, right, limits.maxOutputLength);
      case '~':
        return this.concat(left, right);
      case '+':
        if (typeof left === 'number' && typeof right === 'number') return left + right;
        if (typeof left === 'string' || typeof right === 'string') return this.concat(left, right);
        // Operands were charged by size already; the result is bounded by `produce`.
        if (Array.isArray(left)) return [...listItems(left), ...(Array.isArray(right) ? listItems(right) : [right])];
        throw typeError(`cannot add a ${typeName(left)} and a ${typeName(right)} (use ~ to join text)`);
      case '-':
        if (Array.isArray(left)) return subtractFromList(listItems(left), right);
        return numberOperand(left, op) - numberOperand(right, op);
      case '*':
        return numberOperand(left, op) * numberOperand(right, op);
      case '/':
      case '%': {
        const divisor = numberOperand(right, op);
        const dividend = numberOperand(left, op);
        if (divisor === 0) throw typeError('division by zero');
        return op === '/' ? dividend / divisor : dividend % divisor;
      }
      case '..':
        return makeRange(left, right, 1, limits);
    }
  }

  private concat(left: unknown, right: unknown): string {
    const max = this.runtime.limits.maxOutputLength;
    const a = toDisplayString(left, max);
    const b = toDisplayString(right, max);
    if (a.length + b.length > max) throw limitError('maxOutputLength', max);
    return a + b;
  }
}

/** Pebble's `contains`: substring, list membership (all of a list), map key (all of a list of keys). */
function contains(container: unknown, item: unknown, maxLength: number): boolean {
  if (container === null || container === undefined) return false;
  if (typeof container === 'string') return container.includes(toDisplayString(item, maxLength));
  if (Array.isArray(container)) {
    const items = listItems(container);
    const wanted = Array.isArray(item) ? listItems(item) : [item];
    return wanted.every((candidate) => items.some((existing) => deepEqual(existing, candidate)));
  }
  if (isPlainObject(container)) {
    const keys = Array.isArray(item) ? listItems(item) : [item];
    const isKey = (key: unknown): key is string | number => typeof key === 'string' || typeof key === 'number';
    return keys.every((key) => isKey(key) && Object.hasOwn(container, String(key)));
  }
  throw typeError(`'contains' expects a string, list or map on its left, got ${typeName(container)}`);
}

/** Pebble's list `-`: without every item of a list, or without the first occurrence of an item. */
function subtractFromList(items: unknown[], removed: unknown): unknown[] {
  if (Array.isArray(removed)) {
    const unwanted = listItems(removed);
    return items.filter((item) => !unwanted.some((candidate) => deepEqual(item, candidate)));
  }
  const at = items.findIndex((item) => deepEqual(item, removed));
  if (at !== -1) items.splice(at, 1);
  return items;
}

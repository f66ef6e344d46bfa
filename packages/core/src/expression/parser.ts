/**
 * Recursive-descent parser. Expressions use precedence climbing with Pebble's operator table (plus Kestra's `??`
 * and `???`); each sequence of left-associative operators becomes one flat {@link ChainExpr}.
 *
 * Recursion only happens for nesting the author wrote (parentheses, lists, maps, arguments, unary operators,
 * ternaries, interpolations, `if`/`for` bodies), and every level of it is counted against `maxDepth`, so hostile
 * input ends in `SLU_EXPR_LIMIT` long before the call stack is at risk.
 */

import type {
  Arguments,
  BinaryOperator,
  Expr,
  Link,
  Segment,
  Template,
  TemplateNode,
  TestName,
} from './ast.js';
import { forbiddenError, limitError, locationDetails, syntaxError } from './expression-errors.js';
import { lexExpression, lexTemplate, type StringPart, type Token } from './lexer.js';

type Operator = BinaryOperator | '|' | 'is';

const PRECEDENCE: Readonly<Record<Operator, number>> = {
  or: 10,
  and: 15,
  is: 20,
  contains: 20,
  '==': 30,
  equals: 30,
  '!=': 30,
  '<': 30,
  '>': 30,
  '<=': 30,
  '>=': 30,
  '+': 40,
  '-': 40,
  '*': 60,
  '/': 60,
  '%': 60,
  '|': 100,
  '~': 110,
  '..': 120,
  '??': 120,
  '???': 120,
};

const WORD_OPERATORS: ReadonlySet<string> = new Set(['or', 'and', 'is', 'contains', 'equals']);
const UNARY_PRECEDENCE = 500;

/** Tests available after `is`. */
export const TEST_NAMES: readonly TestName[] = ['defined', 'null', 'empty', 'even', 'odd', 'iterable', 'map', 'json'];
const TESTS: ReadonlySet<string> = new Set(TEST_NAMES);

const LITERALS: ReadonlyMap<string, boolean | null> = new Map([
  ['true', true],
  ['TRUE', true],
  ['false', false],
  ['FALSE', false],
  ['null', null],
  ['NULL', null],
  ['none', null],
  ['NONE', null],
]);

const IF_STOPS: ReadonlySet<string> = new Set(['elseif', 'else', 'endif']);
const ENDIF: ReadonlySet<string> = new Set(['endif']);
const FOR_STOPS: ReadonlySet<string> = new Set(['else', 'endfor']);
const ENDFOR: ReadonlySet<string> = new Set(['endfor']);
const NO_STOPS: ReadonlySet<string> = new Set();
const KNOWN_END_TAGS: ReadonlySet<string> = new Set(['elseif', 'else', 'endif', 'endfor']);

const NO_ARGUMENTS: Arguments = { positional: [], named: [] };

interface BodyResult {
  readonly nodes: TemplateNode[];
  /** The name token of the tag that ended the body, or null at the end of the template. */
  readonly stop: Token | null;
}

class Parser {
  private index = 0;
  private tagDepth = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: readonly Token[],
    private readonly maxDepth: number,
    private depth = 0,
  ) {}

  // ---- tokens

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (this.index < this.tokens.length - 1) this.index += 1;
    return token;
  }

  private previousEnd(): number {
    return (this.tokens[this.index - 1] as Token).end;
  }

  private isPunct(token: Token, value: string): boolean {
    return token.kind === 'punct' && token.value === value;
  }

  private expectPunct(value: string): Token {
    const token = this.next();
    if (!this.isPunct(token, value)) throw this.unexpected(token);
    return token;
  }

  private expectClose(kind: 'print-close' | 'tag-close'): void {
    const token = this.next();
    if (token.kind !== kind) throw this.unexpected(token);
  }

  unexpected(token: Token): Error {
    if (token.kind === 'eof') return syntaxError(this.source, 'unexpected end of expression', token.offset);
    const text = token.kind === 'string' ? this.source.slice(token.offset, token.end) : token.value;
    const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
    return syntaxError(this.source, `unexpected token '${shown}'`, token.offset);
  }

  private enter(offset: number): void {
    this.depth += 1;
    if (this.depth > this.maxDepth) {
      throw limitError('maxDepth', this.maxDepth, locationDetails(this.source, offset));
    }
  }

  // ---- template

  template(): TemplateNode[] {
    return this.body(NO_STOPS).nodes;
  }

  private body(stops: ReadonlySet<string>): BodyResult {
    const nodes: TemplateNode[] = [];
    for (;;) {
      const token = this.next();
      switch (token.kind) {
        case 'eof':
          return { nodes, stop: null };
        case 'text':
          nodes.push({ type: 'text', value: token.value });
          break;
        case 'print-open': {
          const expr = this.expression();
          this.expectClose('print-close');
          nodes.push({ type: 'print', expr, offset: token.offset });
          break;
        }
        case 'tag-open': {
          const name = this.next();
          if (name.kind !== 'name') throw this.unexpected(name);
          if (stops.has(name.value)) return { nodes, stop: name };
          nodes.push(this.tag(name, token.offset));
          break;
        }
        /* v8 ignore next 2 -- the lexer only emits closes inside delimiters, where the parser consumes them */
        default:
          throw this.unexpected(token);
      }
    }
  }

  private tag(name: Token, offset: number): TemplateNode {
    switch (name.value) {
      case 'if':
        return this.nested(offset, () => this.ifTag(offset));
      case 'for':
        return this.nested(offset, () => this.forTag(offset));
      case 'set': {
        const target = this.variableName();
        this.expectPunct('=');
        const value = this.expression();
        this.expectClose('tag-close');
        return { type: 'set', name: target, value, offset };
      }
      default:
        throw syntaxError(
          this.source,
          KNOWN_END_TAGS.has(name.value) ? `unexpected tag '${name.value}'` : `unknown tag '${name.value}'`,
          name.offset,
        );
    }
  }

  private nested<T>(offset: number, parse: () => T): T {
    this.tagDepth += 1;
    if (this.tagDepth > this.maxDepth) {
      throw limitError('maxDepth', this.maxDepth, locationDetails(this.source, offset));
    }
    const result = parse();
    this.tagDepth -= 1;
    return result;
  }

  private ifTag(offset: number): TemplateNode {
    const branches: { test: Expr; body: TemplateNode[] }[] = [];
    let otherwise: TemplateNode[] | null = null;
    let test = this.expression();
    this.expectClose('tag-close');
    for (;;) {
      const { nodes, stop } = this.body(IF_STOPS);
      branches.push({ test, body: nodes });
      if (stop === null) throw syntaxError(this.source, 'missing {% endif %}', offset);
      if (stop.value === 'elseif') {
        test = this.expression();
        this.expectClose('tag-close');
        continue;
      }
      this.expectClose('tag-close');
      if (stop.value === 'else') {
        const rest = this.body(ENDIF);
        if (rest.stop === null) throw syntaxError(this.source, 'missing {% endif %}', offset);
        this.expectClose('tag-close');
        otherwise = rest.nodes;
      }
      return { type: 'if', branches, otherwise, offset };
    }
  }

  private forTag(offset: number): TemplateNode {
    let keyName: string | null = null;
    let valueName = this.variableName();
    if (this.isPunct(this.peek(), ',')) {
      this.next();
      keyName = valueName;
      valueName = this.variableName();
    }
    const keyword = this.next();
    if (keyword.kind !== 'name' || keyword.value !== 'in') throw this.unexpected(keyword);
    const iterable = this.expression();
    this.expectClose('tag-close');
    const { nodes, stop } = this.body(FOR_STOPS);
    if (stop === null) throw syntaxError(this.source, 'missing {% endfor %}', offset);
    this.expectClose('tag-close');
    let otherwise: TemplateNode[] | null = null;
    if (stop.value === 'else') {
      const rest = this.body(ENDFOR);
      if (rest.stop === null) throw syntaxError(this.source, 'missing {% endfor %}', offset);
      this.expectClose('tag-close');
      otherwise = rest.nodes;
    }
    return { type: 'for', keyName, valueName, iterable, body: nodes, otherwise, offset };
  }

  /** A name a template assigns (`set`, `for`). */
  private variableName(): string {
    const token = this.next();
    if (token.kind !== 'name') throw this.unexpected(token);
    if (LITERALS.has(token.value)) throw syntaxError(this.source, `cannot assign to '${token.value}'`, token.offset);
    return token.value;
  }

  // ---- expressions

  expression(minPrecedence = 0): Expr {
    const first = this.peek();
    this.enter(first.offset);
    let left: Expr;
    if ((first.kind === 'name' && first.value === 'not') || this.isPunct(first, '-') || this.isPunct(first, '+')) {
      this.next();
      const operand = this.expression(UNARY_PRECEDENCE);
      left = { type: 'unary', op: first.value as 'not' | '-' | '+', operand, offset: first.offset };
    } else {
      left = this.postfix(this.primary(), first.offset);
    }

    const links: Link[] = [];
    for (;;) {
      const token = this.peek();
      const op = this.operator(token);
      if (op === null || PRECEDENCE[op] < minPrecedence) break;
      this.next();
      if (op === '|') {
        const name = this.next();
        if (name.kind !== 'name') throw this.unexpected(name);
        const args = this.isPunct(this.peek(), '(') ? this.arguments() : NO_ARGUMENTS;
        links.push({ kind: 'filter', name: name.value, args, offset: name.offset });
      } else if (op === 'is') {
        const negated = this.peek().kind === 'name' && this.peek().value === 'not';
        if (negated) this.next();
        const name = this.next();
        if (name.kind !== 'name') throw this.unexpected(name);
        if (!TESTS.has(name.value)) throw syntaxError(this.source, `unknown test '${name.value}'`, name.offset);
        links.push({ kind: 'test', name: name.value as TestName, negated, offset: name.offset });
      } else {
        const right = this.expression(PRECEDENCE[op] + 1);
        links.push({ kind: 'binary', op, right, offset: token.offset });
      }
    }
    let expr: Expr = links.length === 0 ? left : { type: 'chain', head: left, links, offset: left.offset };

    if (minPrecedence === 0 && this.isPunct(this.peek(), '?')) {
      this.next();
      const then = this.expression();
      this.expectPunct(':');
      const otherwise = this.expression();
      expr = { type: 'ternary', test: expr, then, otherwise, offset: expr.offset };
    }
    this.depth -= 1;
    return expr;
  }

  private operator(token: Token): Operator | null {
    if (token.kind === 'punct' || (token.kind === 'name' && WORD_OPERATORS.has(token.value))) {
      return Object.hasOwn(PRECEDENCE, token.value) ? (token.value as Operator) : null;
    }
    return null;
  }

  private primary(): Expr {
    const token = this.next();
    const offset = token.offset;
    switch (token.kind) {
      case 'number':
        return { type: 'literal', value: Number(token.value), offset };
      case 'string':
        return token.parts === undefined ? { type: 'literal', value: token.value, offset } : this.interpolation(token);
      case 'name': {
        if (LITERALS.has(token.value)) return { type: 'literal', value: LITERALS.get(token.value) ?? null, offset };
        if (this.isPunct(this.peek(), '(')) return { type: 'call', name: token.value, args: this.arguments(), offset };
        return { type: 'variable', name: token.value, offset };
      }
      case 'punct':
        if (token.value === '(') {
          const inner = this.expression();
          this.expectPunct(')');
          return inner;
        }
        if (token.value === '[') return this.list(offset);
        if (token.value === '{') return this.map(offset);
        break;
      default:
        break;
    }
    throw this.unexpected(token);
  }

  private postfix(base: Expr, start: number): Expr {
    const segments: Segment[] = [];
    let baseText: string | null = null;
    for (;;) {
      const token = this.peek();
      if (this.isPunct(token, '.')) {
        baseText ??= this.source.slice(start, this.previousEnd());
        this.next();
        const name = this.next();
        if (name.kind !== 'name' && name.kind !== 'number') throw this.unexpected(name);
        segments.push({ kind: 'name', name: name.value, offset: name.offset });
      } else if (this.isPunct(token, '[')) {
        baseText ??= this.source.slice(start, this.previousEnd());
        this.next();
        const key = this.expression();
        this.expectPunct(']');
        segments.push({ kind: 'index', key, offset: token.offset });
      } else if (this.isPunct(token, '(')) {
        // Only a bare name may be called (`secret('x')`); `a.b()` would be a method call on data.
        const last = segments.at(-1);
        throw forbiddenError(
          last?.kind === 'name' ? last.name : this.source.slice(start, this.previousEnd()),
          locationDetails(this.source, token.offset),
        );
      } else {
        break;
      }
    }
    if (segments.length === 0) return base;
    return { type: 'access', base, baseText: baseText as string, segments, offset: start };
  }

  private arguments(): Arguments {
    this.expectPunct('(');
    const positional: Expr[] = [];
    const named: { name: string; value: Expr }[] = [];
    while (!this.isPunct(this.peek(), ')')) {
      if (positional.length > 0 || named.length > 0) this.expectPunct(',');
      const token = this.peek();
      if (token.kind === 'name' && this.isPunct(this.peek(1), '=')) {
        this.next();
        this.next();
        if (named.some((argument) => argument.name === token.value)) {
          throw syntaxError(this.source, `duplicate argument '${token.value}'`, token.offset);
        }
        named.push({ name: token.value, value: this.expression() });
      } else {
        if (named.length > 0) {
          throw syntaxError(this.source, 'positional arguments must come before named arguments', token.offset);
        }
        positional.push(this.expression());
      }
    }
    this.next();
    return { positional, named };
  }

  private list(offset: number): Expr {
    const items: Expr[] = [];
    if (this.isPunct(this.peek(), ']')) {
      this.next();
      return { type: 'list', items, offset };
    }
    for (;;) {
      items.push(this.expression());
      if (this.isPunct(this.peek(), ']')) break;
      this.expectPunct(',');
    }
    this.next();
    return { type: 'list', items, offset };
  }

  private map(offset: number): Expr {
    const entries: { key: Expr; value: Expr }[] = [];
    if (this.isPunct(this.peek(), '}')) {
      this.next();
      return { type: 'map', entries, offset };
    }
    for (;;) {
      const key = this.expression();
      this.expectPunct(':');
      entries.push({ key, value: this.expression() });
      if (this.isPunct(this.peek(), '}')) break;
      this.expectPunct(',');
    }
    this.next();
    return { type: 'map', entries, offset };
  }

  private interpolation(token: Token): Expr {
    const parts: Expr[] = [];
    for (const part of token.parts as readonly StringPart[]) {
      if (typeof part === 'string') {
        parts.push({ type: 'literal', value: part, offset: token.offset });
        continue;
      }
      const inner = new Parser(this.source, part, this.maxDepth, this.depth);
      parts.push(inner.expression());
      const rest = inner.peek();
      if (rest.kind !== 'eof') throw inner.unexpected(rest);
    }
    return { type: 'interpolation', parts, offset: token.offset };
  }

  /** Whole input as one expression. */
  bareExpression(): Expr {
    const expr = this.expression();
    const rest = this.peek();
    if (rest.kind !== 'eof') throw this.unexpected(rest);
    return expr;
  }
}

/**
 * Parse a template.
 *
 * @throws SluiceError `SLU_EXPR_SYNTAX` (with `{offset, line, column}` details), `SLU_EXPR_FORBIDDEN` for a
 *   forbidden name or a method call, `SLU_EXPR_LIMIT` when nesting exceeds `maxDepth`.
 */
export function parseTemplateSource(source: string, maxDepth: number): Template {
  const tokens = lexTemplate(source);
  return Object.freeze({ source, nodes: new Parser(source, tokens, maxDepth).template() });
}

/** Parse a bare expression (`inputs.x == 'a'`); throws like {@link parseTemplateSource}. */
export function parseExpressionSource(source: string, maxDepth: number): Expr {
  return new Parser(source, lexExpression(source), maxDepth).bareExpression();
}

/**
 * The syntax tree of a parsed template. Offsets are UTF-16 offsets into the template source.
 *
 * Left-associative operator sequences (`a ~ b ~ c`, `x | f | g`, `a.b.c[0]`) are stored flat ({@link ChainExpr},
 * {@link AccessExpr}) rather than as nested binary nodes, so a long sequence costs no evaluation stack.
 */

/** Binary operators, with Pebble's (and Kestra's) precedences in the parser. */
export type BinaryOperator =
  | 'or'
  | 'and'
  | 'contains'
  | '=='
  | 'equals'
  | '!='
  | '<'
  | '>'
  | '<='
  | '>='
  | '+'
  | '-'
  | '*'
  | '/'
  | '%'
  | '~'
  | '..'
  | '??'
  | '???';

/** Names usable after `is` / `is not`. */
export type TestName = 'defined' | 'null' | 'empty' | 'even' | 'odd' | 'iterable' | 'map' | 'json';

/** Positional and named arguments of a call, filter or test. */
export interface Arguments {
  readonly positional: readonly Expr[];
  readonly named: readonly { readonly name: string; readonly value: Expr }[];
}

/** One step after the head of a {@link ChainExpr}. */
export type Link =
  | { readonly kind: 'binary'; readonly op: BinaryOperator; readonly right: Expr; readonly offset: number }
  | { readonly kind: 'filter'; readonly name: string; readonly args: Arguments; readonly offset: number }
  | { readonly kind: 'test'; readonly name: TestName; readonly negated: boolean; readonly offset: number };

/** One step of an {@link AccessExpr}: `.name` or `[expression]`. */
export type Segment =
  | { readonly kind: 'name'; readonly name: string; readonly offset: number }
  | { readonly kind: 'index'; readonly key: Expr; readonly offset: number };

/** A literal: number, string, boolean or null. */
export interface LiteralExpr {
  readonly type: 'literal';
  readonly value: string | number | boolean | null;
  readonly offset: number;
}

/** A double-quoted string with `#{...}` parts: the parts are concatenated. */
export interface InterpolationExpr {
  readonly type: 'interpolation';
  readonly parts: readonly Expr[];
  readonly offset: number;
}

/** A variable: a loop or `set` variable, else a top-level key of the render context. */
export interface VariableExpr {
  readonly type: 'variable';
  readonly name: string;
  readonly offset: number;
}

/** `base.a['b'][0]`; `baseText` is how the base is written, for error messages. */
export interface AccessExpr {
  readonly type: 'access';
  readonly base: Expr;
  readonly baseText: string;
  readonly segments: readonly Segment[];
  readonly offset: number;
}

/** A list literal `[a, b]`. */
export interface ListExpr {
  readonly type: 'list';
  readonly items: readonly Expr[];
  readonly offset: number;
}

/** A map literal `{'k': v}`; keys are expressions that must evaluate to strings or numbers. */
export interface MapExpr {
  readonly type: 'map';
  readonly entries: readonly { readonly key: Expr; readonly value: Expr }[];
  readonly offset: number;
}

/** A call of a built-in or supplied function by name: `name(args)`. */
export interface CallExpr {
  readonly type: 'call';
  readonly name: string;
  readonly args: Arguments;
  readonly offset: number;
}

/** `not x`, `-x`, `+x`. */
export interface UnaryExpr {
  readonly type: 'unary';
  readonly op: 'not' | '-' | '+';
  readonly operand: Expr;
  readonly offset: number;
}

/** `head link1 link2...`, evaluated left to right. */
export interface ChainExpr {
  readonly type: 'chain';
  readonly head: Expr;
  readonly links: readonly Link[];
  readonly offset: number;
}

/** `test ? then : otherwise`. */
export interface TernaryExpr {
  readonly type: 'ternary';
  readonly test: Expr;
  readonly then: Expr;
  readonly otherwise: Expr;
  readonly offset: number;
}

/** An expression node. */
export type Expr =
  | LiteralExpr
  | InterpolationExpr
  | VariableExpr
  | AccessExpr
  | ListExpr
  | MapExpr
  | CallExpr
  | UnaryExpr
  | ChainExpr
  | TernaryExpr;

/** A template node. */
export type TemplateNode =
  | { readonly type: 'text'; readonly value: string }
  | { readonly type: 'print'; readonly expr: Expr; readonly offset: number }
  | {
      readonly type: 'if';
      readonly branches: readonly { readonly test: Expr; readonly body: readonly TemplateNode[] }[];
      readonly otherwise: readonly TemplateNode[] | null;
      readonly offset: number;
    }
  | {
      readonly type: 'for';
      /** `k` in `for k, v in x`; null with a single loop variable. */
      readonly keyName: string | null;
      readonly valueName: string;
      readonly iterable: Expr;
      readonly body: readonly TemplateNode[];
      readonly otherwise: readonly TemplateNode[] | null;
      readonly offset: number;
    }
  | { readonly type: 'set'; readonly name: string; readonly value: Expr; readonly offset: number };

/** A parsed template, reusable across renders. */
export interface Template {
  /** The template text. */
  readonly source: string;
  /** The syntax tree. */
  readonly nodes: readonly TemplateNode[];
}

/**
 * Tokenizer. Template text alternates between text and three kinds of delimiters: `{{ ... }}` (print),
 * `{% ... %}` (tag) and `{# ... #}` (comment). Inside delimiters the source is cut into expression tokens.
 *
 * The lexer is a loop over a stack of frames (print, tag, double-quoted string, `#{}` interpolation) rather than
 * a recursive function, so no input can exhaust the call stack here. Whitespace control (`{{-`, `-}}`, `{%-`,
 * `-%}`, `{#-`, `-#}`) and `{% raw %}` / `{% verbatim %}` blocks are resolved here; the parser only sees the
 * resulting text tokens.
 */

import { forbiddenError, locationDetails, syntaxError } from './expression-errors.js';
import { FORBIDDEN_NAMES } from './values.js';

/** Kinds of tokens: template structure (`text`, delimiters, `eof`) and expression tokens. */
export type TokenKind =
  | 'text'
  | 'print-open'
  | 'print-close'
  | 'tag-open'
  | 'tag-close'
  | 'name'
  | 'number'
  | 'string'
  | 'punct'
  | 'eof';

/** Part of a double-quoted string: literal text, or the tokens of a `#{...}` (ending with an `eof` token). */
export type StringPart = string | Token[];

/** One token, with its UTF-16 offsets in the source. */
export interface Token {
  readonly kind: TokenKind;
  /** Text of the token; for strings the unescaped value (when there is no interpolation). */
  readonly value: string;
  readonly offset: number;
  /** Offset just past the token. */
  readonly end: number;
  /** Parts of a double-quoted string with interpolation. */
  readonly parts?: readonly StringPart[];
}

const PUNCTUATION = [
  '???',
  '??',
  '..',
  '==',
  '!=',
  '<=',
  '>=',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  '.',
  '|',
  '?',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '~',
  '=',
];

const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  '0': '\0',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '#': '#',
  '/': '/',
};

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER = /\d+(?:\.\d+)?/y;
const INTEGER = /\d+/y;
const WHITESPACE = /\s+/y;
const DELIMITER = /\{[{%#]/g;
const RAW_OPEN = /\s*(raw|verbatim)\s*(-?)%\}/y;

interface ExpressionFrame {
  readonly kind: 'print' | 'tag' | 'bare' | 'interpolation';
  /** Offset of the opening delimiter, for "unclosed" errors. */
  readonly open: number;
  /** Where tokens go. */
  readonly sink: Token[];
  /** Open `{` braces, so `}}` closing a nested map is not taken for the end of a print. */
  braces: number;
}

interface StringFrame {
  readonly kind: 'string';
  readonly open: number;
  readonly sink: Token[];
  readonly parts: StringPart[];
  buffer: string;
}

type Frame = ExpressionFrame | StringFrame;

class Lexer {
  private pos = 0;
  private readonly frames: Frame[] = [];
  private readonly tokens: Token[] = [];
  /** Set by a `-}}`-style close: strip leading whitespace of the next text. */
  private trimNext = false;

  constructor(private readonly source: string) {}

  template(): Token[] {
    while (this.pos < this.source.length || this.frames.length > 0) {
      const frame = this.frames.at(-1);
      if (frame === undefined) this.text();
      else if (frame.kind === 'string') this.stringContent(frame);
      else this.expression(frame);
    }
    this.tokens.push(this.token('eof', '', this.source.length, this.source.length));
    return this.tokens;
  }

  bare(): Token[] {
    this.frames.push({ kind: 'bare', open: 0, sink: this.tokens, braces: 0 });
    while (this.frames.length > 0) {
      const frame = this.frames.at(-1) as Frame;
      if (frame.kind === 'string') this.stringContent(frame);
      else this.expression(frame);
    }
    return this.tokens;
  }

  private token(kind: TokenKind, value: string, offset: number, end: number, parts?: StringPart[]): Token {
    return parts === undefined ? { kind, value, offset, end } : { kind, value, offset, end, parts };
  }

  private emitText(value: string, offset: number): void {
    let text = value;
    if (this.trimNext) text = text.trimStart();
    this.trimNext = false;
    if (text !== '') this.tokens.push(this.token('text', text, offset, offset + value.length));
  }

  /** `{{-` and friends: strip trailing whitespace of the text just before. */
  private trimPrevious(): void {
    const last = this.tokens.at(-1);
    if (last?.kind !== 'text') return;
    const trimmed = last.value.trimEnd();
    this.tokens.pop();
    if (trimmed !== '') this.tokens.push({ ...last, value: trimmed });
  }

  private text(): void {
    DELIMITER.lastIndex = this.pos;
    const match = DELIMITER.exec(this.source);
    if (match === null) {
      this.emitText(this.source.slice(this.pos), this.pos);
      this.pos = this.source.length;
      return;
    }
    const start = match.index;
    this.emitText(this.source.slice(this.pos, start), this.pos);
    const trim = this.source[start + 2] === '-';
    if (trim) this.trimPrevious();
    this.pos = start + (trim ? 3 : 2);
    const kind = this.source[start + 1];
    if (kind === '#') {
      const close = this.source.indexOf('#}', this.pos);
      if (close === -1) throw syntaxError(this.source, "unclosed comment '{#'", start);
      this.trimNext = this.source[close - 1] === '-' && close - 1 >= this.pos;
      this.pos = close + 2;
    } else if (kind === '{') {
      this.tokens.push(this.token('print-open', '{{', start, this.pos));
      this.frames.push({ kind: 'print', open: start, sink: this.tokens, braces: 0 });
    } else {
      RAW_OPEN.lastIndex = this.pos;
      const raw = RAW_OPEN.exec(this.source);
      if (raw !== null) {
        this.raw(raw[1] as string, raw[2] === '-', start, RAW_OPEN.lastIndex);
        return;
      }
      this.tokens.push(this.token('tag-open', '{%', start, this.pos));
      this.frames.push({ kind: 'tag', open: start, sink: this.tokens, braces: 0 });
    }
  }

  /** A `{% raw %}...{% endraw %}` block: its content is text, delimiters and all. */
  private raw(name: string, trimStart: boolean, start: number, contentStart: number): void {
    const end = new RegExp(`\\{%(-?)\\s*end${name}\\s*(-?)%\\}`, 'g');
    end.lastIndex = contentStart;
    const close = end.exec(this.source);
    if (close === null) throw syntaxError(this.source, `missing {% end${name} %}`, start);
    let content = this.source.slice(contentStart, close.index);
    if (trimStart) content = content.trimStart();
    if (close[1] === '-') content = content.trimEnd();
    if (content !== '') this.tokens.push(this.token('text', content, contentStart, close.index));
    this.trimNext = close[2] === '-';
    this.pos = end.lastIndex;
  }

  private expression(frame: ExpressionFrame): void {
    const { source } = this;
    WHITESPACE.lastIndex = this.pos;
    if (WHITESPACE.test(source)) this.pos = WHITESPACE.lastIndex;
    const start = this.pos;
    if (start >= source.length) {
      if (frame.kind === 'bare') {
        this.frames.pop();
        this.tokens.push(this.token('eof', '', start, start));
        return;
      }
      const opener = frame.kind === 'print' ? '{{' : frame.kind === 'tag' ? '{%' : '#{';
      throw syntaxError(source, `unclosed '${opener}'`, frame.open);
    }
    const char = source[start] as string;

    if (frame.kind === 'print' || frame.kind === 'tag') {
      const dash = char === '-' ? 1 : 0;
      if (source.startsWith('%}', start + dash) || (frame.braces === 0 && source.startsWith('}}', start + dash))) {
        const isTag = source[start + dash] === '%';
        this.pos = start + dash + 2;
        frame.sink.push(this.token(isTag ? 'tag-close' : 'print-close', isTag ? '%}' : '}}', start, this.pos));
        this.trimNext = dash === 1;
        this.frames.pop();
        return;
      }
    } else if (frame.kind === 'interpolation' && char === '}' && frame.braces === 0) {
      this.pos += 1;
      frame.sink.push(this.token('eof', '', start, start));
      this.frames.pop();
      const owner = this.frames.at(-1) as StringFrame;
      owner.parts.push(frame.sink);
      return;
    }

    if (char === "'") {
      frame.sink.push(this.singleQuoted(start));
    } else if (char === '"') {
      this.pos += 1;
      this.frames.push({ kind: 'string', open: start, sink: frame.sink, parts: [], buffer: '' });
    } else if (char >= '0' && char <= '9') {
      // After `.` only an integer: `list.0.1` is two index steps, not the number 0.1.
      const pattern = frame.sink.at(-1)?.value === '.' && frame.sink.at(-1)?.kind === 'punct' ? INTEGER : NUMBER;
      pattern.lastIndex = start;
      pattern.test(source);
      this.pos = pattern.lastIndex;
      frame.sink.push(this.token('number', source.slice(start, this.pos), start, this.pos));
    } else if (/[A-Za-z_]/.test(char)) {
      NAME.lastIndex = start;
      NAME.test(source);
      this.pos = NAME.lastIndex;
      const name = source.slice(start, this.pos);
      if (FORBIDDEN_NAMES.has(name)) throw forbiddenError(name, locationDetails(source, start));
      frame.sink.push(this.token('name', name, start, this.pos));
    } else {
      const punct = PUNCTUATION.find((candidate) => source.startsWith(candidate, start));
      if (punct === undefined) throw syntaxError(source, `unexpected character '${char}'`, start);
      if (punct === '{') frame.braces += 1;
      else if (punct === '}' && frame.braces > 0) frame.braces -= 1;
      this.pos = start + punct.length;
      frame.sink.push(this.token('punct', punct, start, this.pos));
    }
  }

  /** Reads an escape at `this.pos` (on the backslash) and returns the text it stands for. */
  private escape(): string {
    const next = this.source[this.pos + 1];
    if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(this.source.slice(this.pos + 2, this.pos + 6))) {
      const text = String.fromCharCode(parseInt(this.source.slice(this.pos + 2, this.pos + 6), 16));
      this.pos += 6;
      return text;
    }
    if (next === undefined) {
      this.pos += 1;
      return '\\';
    }
    this.pos += 2;
    // An unknown escape keeps its backslash, so regular expressions such as '\d+' survive.
    return ESCAPES[next] ?? `\\${next}`;
  }

  private singleQuoted(start: number): Token {
    this.pos = start + 1;
    let value = '';
    for (;;) {
      const char = this.source[this.pos];
      if (char === undefined) throw syntaxError(this.source, 'unclosed string', start);
      if (char === "'") break;
      if (char === '\\') value += this.escape();
      else {
        value += char;
        this.pos += 1;
      }
    }
    this.pos += 1;
    return this.token('string', value, start, this.pos);
  }

  private stringContent(frame: StringFrame): void {
    for (;;) {
      const char = this.source[this.pos];
      if (char === undefined) throw syntaxError(this.source, 'unclosed string', frame.open);
      if (char === '"') {
        this.pos += 1;
        this.frames.pop();
        if (frame.buffer !== '' || frame.parts.length === 0) frame.parts.push(frame.buffer);
        const simple = frame.parts.length === 1 && typeof frame.parts[0] === 'string';
        frame.sink.push(
          simple
            ? this.token('string', frame.parts[0] as string, frame.open, this.pos)
            : this.token('string', '', frame.open, this.pos, frame.parts),
        );
        return;
      }
      if (char === '#' && this.source[this.pos + 1] === '{') {
        if (frame.buffer !== '') frame.parts.push(frame.buffer);
        frame.buffer = '';
        this.frames.push({ kind: 'interpolation', open: this.pos, sink: [], braces: 0 });
        this.pos += 2;
        return;
      }
      if (char === '\\') frame.buffer += this.escape();
      else {
        frame.buffer += char;
        this.pos += 1;
      }
    }
  }
}

/** Tokens of a template (text and delimited expressions), ending with an `eof` token. */
export function lexTemplate(source: string): Token[] {
  return new Lexer(source).template();
}

/** Tokens of a bare expression (`inputs.x == 'a'`), ending with an `eof` token. */
export function lexExpression(source: string): Token[] {
  return new Lexer(source).bare();
}

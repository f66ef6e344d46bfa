/**
 * Where the cursor is in a flow's YAML, worked out from indentation alone (no parser: the text being typed is
 * usually not valid YAML yet, and a block structure is all the editor needs).
 *
 * Every line is cut into tokens by column: its list dashes (`- `), then a key (`name:` with its inline value) or some
 * other text. From the cursor, a walk up the lines finds the enclosing scopes: the mapping the cursor's key belongs
 * to, the sequence that mapping is an item of, the key that sequence is the value of, and so on to the root. Each
 * scope records how it hangs off its parent (`via`: the parent's key, or `-` for a sequence item), so the path of a
 * task mapping is `['tasks', '-']`, of a task nested in an If `['tasks', '-', 'then', '-']`.
 *
 * Block scalars (`script: |`) are skipped as opaque, and `---` separates documents (only the cursor's one counts).
 * Pure functions, no CodeMirror: tested directly.
 */

export interface Token {
  readonly kind: 'dash' | 'key' | 'text';
  /** 0-based column. */
  readonly col: number;
  /** The key's name (unquoted), for `key`. */
  readonly key?: string;
  /** The inline value after `key:` or the text, trimmed, comment removed. */
  readonly value?: string;
}

export interface LineInfo {
  readonly tokens: readonly Token[];
  /** Empty, whitespace or a comment. */
  readonly blank: boolean;
  /** The line opens a block scalar (`key: |`, `- >-`). */
  readonly opensBlock: boolean;
  /** Index of the line owning the block scalar this line is part of. */
  ownerLine?: number;
  /** `---` or `...`. */
  readonly marker: boolean;
}

export interface KeyInfo {
  readonly value: string;
  /** 0-based line. */
  readonly line: number;
}

export interface Scope {
  readonly kind: 'map' | 'seq';
  readonly col: number;
  /** How this scope hangs off its parent: the parent mapping's key, or `-` for an item of a sequence. */
  via?: string;
  /** First line of a mapping (where its first key is, or the line after its parent key). */
  startLine?: number;
  /** A mapping's keys (before and after the cursor), with their inline values. */
  keys: Map<string, KeyInfo>;
}

export type Position =
  | { readonly kind: 'key'; readonly prefix: string; readonly from: number; readonly lineEnd: boolean }
  | { readonly kind: 'value'; readonly key: string; readonly prefix: string; readonly from: number }
  | { readonly kind: 'none' };

export interface CursorContext {
  /** Innermost first; the last one is the outermost found (the document's root mapping when the YAML is sound). */
  readonly scopes: readonly Scope[];
  /** What is being typed at the cursor. */
  readonly position: Position;
}

const KEY = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{}[\],&*!|>%@`-][^\s:#]*|-[^\s:#]+)[ \t]*:(?=[ \t]|$)/;
const BLOCK_SCALAR = /^[|>][-+0-9]*$/;

/** The text without a trailing ` # comment` (quotes respected, roughly). */
export function stripComment(text: string): string {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") {
      if (i === 0 || /\s/.test(text[i - 1] ?? '')) quote = c;
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) return text.slice(0, i);
  }
  return text;
}

function unquote(key: string): string {
  if (key.length >= 2 && ((key.startsWith('"') && key.endsWith('"')) || (key.startsWith("'") && key.endsWith("'")))) return key.slice(1, -1);
  return key;
}

export function parseLine(text: string): LineInfo {
  const tokens: Token[] = [];
  const trimmed = text.trim();
  if (/^(---|\.\.\.)(\s|$)/.test(text)) return { tokens, blank: false, opensBlock: false, marker: true };
  if (trimmed === '' || trimmed.startsWith('#')) return { tokens, blank: true, opensBlock: false, marker: false };
  let i = 0;
  while (text[i] === ' ') i++;
  while (text[i] === '-' && (i + 1 === text.length || text[i + 1] === ' ' || text[i + 1] === '\t')) {
    tokens.push({ kind: 'dash', col: i });
    i++;
    while (text[i] === ' ' || text[i] === '\t') i++;
  }
  const rest = text.slice(i);
  if (rest === '' || rest.startsWith('#')) {
    return { tokens, blank: false, opensBlock: false, marker: false };
  }
  const match = KEY.exec(rest);
  if (match) {
    const value = stripComment(rest.slice(match[0].length)).trim();
    tokens.push({ kind: 'key', col: i, key: unquote(match[1] ?? ''), value });
    return { tokens, blank: false, opensBlock: BLOCK_SCALAR.test(value), marker: false };
  }
  const value = stripComment(rest).trim();
  tokens.push({ kind: 'text', col: i, value });
  return { tokens, blank: false, opensBlock: BLOCK_SCALAR.test(value), marker: false };
}

/** Every line parsed, with the lines of block scalars marked as owned by the line that opens them. */
export function parseLines(lines: readonly string[]): LineInfo[] {
  const parsed = lines.map(parseLine);
  for (let i = 0; i < parsed.length; i++) {
    const line = parsed[i]!;
    if (!line.opensBlock) continue;
    const last = line.tokens[line.tokens.length - 1];
    // `key: |`: content deeper than the key; `- |`: deeper than the dash.
    const owner = line.tokens[line.tokens.length - 1]?.kind === 'key' ? (last?.col ?? 0) : (line.tokens[line.tokens.length - 2]?.col ?? 0);
    let j = i + 1;
    for (; j < parsed.length; j++) {
      const text = lines[j] ?? '';
      if (text.trim() === '') {
        parsed[j] = { ...parsed[j]!, ownerLine: i };
        continue;
      }
      const indent = text.length - text.trimStart().length;
      if (indent <= owner) break;
      parsed[j] = { tokens: [], blank: true, opensBlock: false, marker: false, ownerLine: i };
    }
    // Trailing blank lines belong to what follows.
    for (let k = j - 1; k > i && (lines[k] ?? '').trim() === ''; k--) parsed[k] = { tokens: [], blank: true, opensBlock: false, marker: false };
    i = j - 1;
  }
  return parsed;
}

/** The keys of the mapping at `col` that starts on `startLine`, up to where it ends. */
function collectKeys(lines: readonly LineInfo[], col: number, startLine: number, end: number): Map<string, KeyInfo> {
  const keys = new Map<string, KeyInfo>();
  for (let i = startLine; i < end; i++) {
    const line = lines[i]!;
    if (line.blank) continue;
    if (line.marker) break;
    const first = line.tokens[0];
    if (!first) continue;
    const at = line.tokens.findIndex((t) => t.kind === 'key' && t.col === col);
    if (at >= 0) {
      if (at > 0 && i !== startLine) break; // `- key:` at this column: the next item's mapping
      const token = line.tokens[at]!;
      if (!keys.has(token.key!)) keys.set(token.key!, { value: token.value ?? '', line: i });
      continue;
    }
    if (first.col < col) break;
  }
  return keys;
}

/**
 * The context of offset `pos` in `text`: the enclosing scopes (innermost first) and what is being typed.
 */
export function cursorContext(text: string, pos: number): CursorContext {
  const rawLines = text.split('\n');
  const lines = parseLines(rawLines);
  // Cursor line and column.
  let lineIndex = 0;
  let offset = 0;
  for (; lineIndex < rawLines.length - 1; lineIndex++) {
    const length = rawLines[lineIndex]!.length + 1;
    if (offset + length > pos) break;
    offset += length;
  }
  const lineText = rawLines[lineIndex] ?? '';
  const ch = Math.max(0, Math.min(pos - offset, lineText.length));

  // The document the cursor is in.
  let docStart = 0;
  for (let i = lineIndex - 1; i >= 0; i--) {
    if (lines[i]!.marker) {
      docStart = i + 1;
      break;
    }
  }
  let docEnd = lines.length;
  for (let i = lineIndex + 1; i < lines.length; i++) {
    if (lines[i]!.marker) {
      docEnd = i;
      break;
    }
  }

  // The cursor line: inside a block scalar, the context is the line that opened it.
  let position: Position = { kind: 'none' };
  let cursorLine = lineIndex;
  let cursorTokens: Token[];
  let col: number;
  const owner = lines[lineIndex]?.ownerLine;
  if (owner !== undefined || lines[lineIndex]?.marker) {
    cursorLine = owner ?? lineIndex;
    const tokens = [...(lines[cursorLine]?.tokens ?? [])];
    const last = tokens[tokens.length - 1];
    col = last && last.kind !== 'dash' ? last.col : ch;
    cursorTokens = tokens;
  } else {
    const before = lineText.slice(0, ch);
    const after = lineText.slice(ch);
    const keyTyping = /^(\s*)((?:-[ \t]+)*)([\w$@./-]*)$/.exec(before);
    const valueTyping = /^(\s*)((?:-[ \t]+)*)("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{}[\],&*!|>%@`-][^\s:#]*|-[^\s:#]+)[ \t]*:[ \t]+([\w$@./-]*)$/.exec(before);
    const dashes = (indent: string, list: string): Token[] => {
      const result: Token[] = [];
      let c = indent.length;
      for (const part of list.match(/-[ \t]+/g) ?? []) {
        result.push({ kind: 'dash', col: c });
        c += part.length;
      }
      return result;
    };
    if (keyTyping && !keyTyping[3]!.startsWith('-')) {
      const [, indent = '', list = '', prefix = ''] = keyTyping;
      col = indent.length + list.length;
      cursorTokens = dashes(indent, list);
      position = { kind: 'key', prefix, from: pos - prefix.length, lineEnd: /^[\w$@./-]*\s*$/.test(after) };
    } else if (valueTyping) {
      const [, indent = '', list = '', key = '', prefix = ''] = valueTyping;
      col = indent.length + list.length;
      cursorTokens = [...dashes(indent, list), { kind: 'key', col, key: unquote(key), value: prefix }];
      position = { kind: 'value', key: unquote(key), prefix, from: pos - prefix.length };
    } else {
      const tokens = [...(lines[lineIndex]?.tokens ?? [])];
      const last = tokens[tokens.length - 1];
      col = last && last.kind !== 'dash' ? last.col : ch;
      cursorTokens = tokens.filter((t) => t.col < col || t.kind === 'key');
    }
  }

  const scopes: Scope[] = [{ kind: 'map', col, keys: new Map() }];
  const top = (): Scope => scopes[scopes.length - 1]!;
  /** Tokens left of `index` on `line` are dashes opening the current scope there: one sequence per dash. */
  const openers = (line: number, tokens: readonly Token[], index: number): void => {
    for (let j = index - 1; j >= 0; j--) {
      const token = tokens[j]!;
      if (token.kind !== 'dash') break;
      const current = top();
      current.via = '-';
      current.startLine ??= line;
      scopes.push({ kind: 'seq', col: token.col, keys: new Map() });
    }
  };
  const keyIndex = cursorTokens.findIndex((t) => t.kind === 'key' && t.col === col);
  openers(cursorLine, cursorTokens, keyIndex >= 0 ? keyIndex : cursorTokens.filter((t) => t.kind === 'dash' && t.col < col).length);

  for (let i = cursorLine - 1; i >= docStart; i--) {
    const line = lines[i]!;
    if (line.blank || line.marker) continue;
    const tokens = line.tokens;
    const first = tokens[0];
    if (!first) continue;
    const scope = top();
    if (scope.kind === 'map') {
      const sibling = tokens.findIndex((t) => t.kind === 'key' && t.col === scope.col);
      if (sibling >= 0) {
        if (sibling > 0) {
          scope.startLine = i;
          openers(i, tokens, sibling);
        }
        continue;
      }
      if (first.col >= scope.col) continue; // deeper content, or a compact sequence under a sibling key
      let parent = -1;
      for (let j = tokens.length - 1; j >= 0; j--) {
        if (tokens[j]!.col < scope.col) {
          parent = j;
          break;
        }
      }
      const token = tokens[parent]!;
      if (token.kind === 'key') {
        scope.via = token.key;
        scope.startLine ??= i + 1;
        scopes.push({ kind: 'map', col: token.col, keys: new Map() });
        if (parent > 0) {
          top().startLine = i;
          openers(i, tokens, parent);
        }
      } else if (token.kind === 'dash') {
        // `-` alone on its line, the mapping below it
        scope.via = '-';
        scope.startLine ??= i + 1;
        scopes.push({ kind: 'seq', col: token.col, keys: new Map() });
        openers(i, tokens, parent);
      }
      // text left of a mapping: malformed, ignore the line
    } else {
      const item = tokens.findIndex((t) => t.kind === 'dash' && t.col === scope.col);
      if (item >= 0) {
        if (item > 0) openers(i, tokens, item);
        continue;
      }
      if (first.col > scope.col) continue;
      let parent = -1;
      for (let j = tokens.length - 1; j >= 0; j--) {
        if (tokens[j]!.col <= scope.col && tokens[j]!.kind === 'key') {
          parent = j;
          break;
        }
      }
      if (parent < 0) continue;
      const token = tokens[parent]!;
      scope.via = token.key;
      scopes.push({ kind: 'map', col: token.col, keys: new Map() });
      if (parent > 0) {
        top().startLine = i;
        openers(i, tokens, parent);
      }
    }
  }
  const outer = top();
  if (outer.kind === 'map') outer.startLine ??= docStart;
  for (const scope of scopes) {
    if (scope.kind === 'map') scope.keys = collectKeys(lines, scope.col, scope.startLine ?? docStart, docEnd);
  }
  return { scopes, position };
}

/** The keys leading from the root to `scopes[index]` (`['tasks', '-']` for a task mapping). */
export function pathOf(scopes: readonly Scope[], index: number): string[] {
  const path: string[] = [];
  for (let i = scopes.length - 2; i >= index; i--) path.push(scopes[i]!.via ?? '?');
  return path;
}

/** Keys whose value is a list of tasks. */
export const TASK_LIST_KEYS: ReadonlySet<string> = new Set(['tasks', 'errors', 'finally', 'afterExecution', 'then', 'else', 'defaults']);

export type ScopeKind = 'flow' | 'task' | 'trigger' | 'runner' | 'plugin-default' | 'input' | 'output' | 'other';

/** What the mapping at `path` holds, from its path alone. */
export function kindOf(path: readonly string[], root: boolean): ScopeKind {
  if (path.length === 0) return root ? 'flow' : 'other';
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (last === 'taskRunner') return 'runner';
  if (path.length === 2 && path[0] === 'triggers' && last === '-') return 'trigger';
  if (path.length === 2 && path[0] === 'pluginDefaults' && last === '-') return 'plugin-default';
  if (path.length === 2 && path[0] === 'taskDefaults' && last === '-') return 'plugin-default';
  if (path.length === 2 && path[0] === 'inputs' && last === '-') return 'input';
  if (path.length === 2 && path[0] === 'outputs' && last === '-') return 'output';
  if (last === '-' && parent === 'onResume') return 'input';
  if (last === '-' && parent !== undefined && TASK_LIST_KEYS.has(parent)) {
    // `pluginDefaults` and the flow's `inputs` are handled above; anything else under a task list key is a task.
    return 'task';
  }
  if (last === '-' && path[path.length - 3] === 'cases') return 'task'; // Switch: cases: {value: [tasks]}
  if (last === 'task' && parent === '-' && path[path.length - 3] === 'tasks') return 'task'; // Dag: tasks: [{task: {...}}]
  return 'other';
}

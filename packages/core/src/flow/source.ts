/**
 * YAML with source positions.
 *
 * Two parsers, one result. The `yaml` package gives a CST with exact positions but is slow (~40 ms for a 500-task
 * flow); js-yaml builds the same plain value ~12x faster but knows no positions. So a single-document source
 * without anchors is read by js-yaml (with the `yaml` package's YAML 1.2 core scalars, see yaml-core-schema.ts), and the `yaml` Document is built only
 * when a position is asked for, that is when there is a problem to report. Everything else (syntax errors, several
 * documents, anchors/aliases with their expansion limit) goes through `yaml`. A test checks both paths agree.
 */
import { loadAll } from 'js-yaml';
import type { State } from 'js-yaml';
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import { formatErrorMessage } from '../errors.js';
import type { ErrorCode, ErrorParams } from '../errors.js';
import { findInvalidCharacter } from '../text.js';
import { YAML_CORE_SCHEMA } from './yaml-core-schema.js';

// The `yaml` package (positions for every node) is loaded the first time a document needs it: a problem to place, an
// anchor, several documents. A valid single-document flow is read by js-yaml alone, and `sluice flow validate` does
// not pay the ~40 ms that loading `yaml` costs at start-up.
const require = createRequire(import.meta.url);
let yamlModule: typeof Yaml | undefined;
const yaml = (): typeof Yaml => (yamlModule ??= require('yaml') as typeof Yaml);
const isAlias = (node: unknown): node is Yaml.Alias => yaml().isAlias(node);
const isMap = (node: unknown): node is Yaml.YAMLMap => yaml().isMap(node);
const isPair = (node: unknown): node is Pair => yaml().isPair(node);
const isScalar = (node: unknown): node is Yaml.Scalar => yaml().isScalar(node);
const isSeq = (node: unknown): node is Yaml.YAMLSeq => yaml().isSeq(node);

export type PathSegment = string | number;

export interface SourcePosition {
  /** 1-based line in the whole source text (not the document). */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /** 0-based character offset in the whole source text. */
  readonly offset: number;
}

/** One problem in a flow document: what, where (YAML path and position) and its error code. */
export interface FlowProblem {
  readonly code: ErrorCode;
  /** The message without the path or position: `must be one of DOCKER, PROCESS, got "FOO"`. */
  readonly message: string;
  /** YAML path in the flow: `tasks[0].tasks[1].runner` (empty for the document itself). */
  readonly path: string;
  readonly line: number;
  readonly column: number;
  /** 0-based index of the document in a multi-document source. */
  readonly document: number;
  readonly params: ErrorParams;
}

/** `tasks[0].tasks[1].runner: must be one of DOCKER, PROCESS (line 18, column 17)` */
export function describeProblem(problem: FlowProblem): string {
  const where = `(line ${problem.line}, column ${problem.column})`;
  return problem.path ? `${problem.path}: ${problem.message} ${where}` : `${problem.message} ${where}`;
}

const simpleKey = /^[A-Za-z_$][\w$-]*$/;

/** Render a path the way users read it: `tasks[0].docker.config`, `inputFiles["data.csv"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (simpleKey.test(segment)) out += out ? `.${segment}` : segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

export interface ParsedDocument {
  /** 0-based index of the document in the source. */
  readonly index: number;
  /** The plain JS value (aliases expanded), or undefined when the document could not be read. */
  readonly value: unknown;
  /** Syntax problems; when not empty, `value` must not be trusted. */
  readonly problems: FlowProblem[];
  /** The document's own text, verbatim (what a server stores as the flow's source). */
  readonly text: string;
  /** Position of the node at `path`: its key (`'key'`) or its value (`'value'`, the default). */
  locate(path: readonly PathSegment[], target?: 'key' | 'value'): SourcePosition;
}

export interface ParseYamlOptions {
  /** Upper bound on alias expansion (protects against "billion laughs"). Default 1000. */
  readonly maxAliasCount?: number;
}

/** Parse every document of a YAML source (`---` separated). Empty trailing documents are dropped. */
export function parseYamlDocuments(source: string, options: ParseYamlOptions = {}): ParsedDocument[] {
  return parseFast(source, options) ?? parseWithPositions(source, options);
}

/** The js-yaml path, or undefined when the source needs the `yaml` package (see the file comment). */
function parseFast(source: string, options: ParseYamlOptions): ParsedDocument[] | undefined {
  const values: unknown[] = [];
  let anchors = false;
  try {
    loadAll(source, (value) => values.push(value), {
      schema: YAML_CORE_SCHEMA,
      json: false,
      listener(event: string, state: State) {
        // js-yaml shares aliased nodes instead of expanding them, so a walk over an alias bomb would still explode:
        // any anchor sends the source to `yaml`, which counts expansions. Unknown internals count as an anchor.
        if (event !== 'close' || anchors) return;
        const map = (state as State & { anchorMap?: object }).anchorMap;
        if (map === undefined) anchors = true;
        else for (const _ in map) anchors = true;
      },
    });
  } catch {
    return undefined; // `yaml` reports the syntax error with its position
  }
  if (anchors || values.length !== 1 || values[0] === null || values[0] === undefined) return undefined;
  // js-yaml refuses a raw NUL or lone surrogate in a scalar but keeps one in a comment: `yaml` reports both.
  if (findInvalidCharacter(source)) return undefined;
  let positions: ParsedDocument | undefined;
  return [
    {
      index: 0,
      value: values[0],
      problems: [],
      text: source,
      locate: (path, target) => {
        positions ??= parseWithPositions(source, options)[0];
        return positions?.locate(path, target) ?? { line: 1, column: 1, offset: 0 };
      },
    },
  ];
}

/** The `yaml` package path: positions for every node, syntax errors, alias expansion limits. */
export function parseWithPositions(source: string, options: ParseYamlOptions = {}): ParsedDocument[] {
  const { LineCounter, parseAllDocuments } = yaml();
  const lineCounter = new LineCounter();
  const docs = (() => {
    try {
      return parseAllDocuments(source, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
    } catch (error) {
      // The parser recurses once per nesting level: a few thousand levels of block mappings exhaust the stack.
      if (!isStackOverflow(error)) throw error;
      return undefined;
    }
  })();
  if (docs === undefined) return [tooDeep(source)];
  const list = Array.isArray(docs) ? docs : [];
  const position = (offset: number): SourcePosition => {
    const bounded = Math.max(0, Math.min(offset, source.length));
    const { line, col } = lineCounter.linePos(bounded);
    return { line, column: col, offset: bounded };
  };
  if (!Array.isArray(docs)) {
    // parseAllDocuments returns an EmptyStream for a source without any document.
    return [];
  }
  const parsed: ParsedDocument[] = [];
  const kept: Document.Parsed[] = [];
  for (const [index, doc] of list.entries()) {
    const contents = doc.contents;
    const isEmpty = doc.errors.length === 0 && (contents === null || (isScalar(contents) && contents.value === null && !contents.source));
    if (isEmpty && list.length > 1) continue;
    parsed.push(readDocument(doc, index, source, position, options.maxAliasCount ?? 1000));
    kept.push(doc);
  }
  // A raw NUL or lone surrogate (parseFast sends such a source here; `yaml` keeps them): each document's first one, at
  // its exact position, with the path of the node holding it. Text between documents (comments, `---`, empty
  // documents) counts with the document before it, text before the first with the first.
  kept.forEach((doc, i) => {
    const from = i === 0 ? 0 : (kept[i - 1]?.range[2] ?? 0);
    const to = i === kept.length - 1 ? source.length : doc.range[2];
    const invalid = findInvalidCharacter(source.slice(from, to));
    const document = parsed[i];
    if (!invalid || !document) return;
    const offset = from + invalid.index;
    const { line, column } = position(offset);
    const params = { character: invalid.description };
    document.problems.push({
      code: 'SLU_FLOW_INVALID_CHARACTER',
      message: formatErrorMessage('SLU_FLOW_INVALID_CHARACTER', params),
      path: formatPath(pathAt(doc, offset)),
      line,
      column,
      document: document.index,
      params,
    });
  });
  // A lone document is the whole source, comments before it included (what a server stores as the flow's source).
  const [only] = parsed;
  if (only && parsed.length === 1) return [{ ...only, text: source }];
  return parsed;
}

function readDocument(
  doc: Document.Parsed,
  index: number,
  source: string,
  position: (offset: number) => SourcePosition,
  maxAliasCount: number,
): ParsedDocument {
  const [start = 0, , end = source.length] = doc.range;
  const text = source.slice(start, end);
  const problems: FlowProblem[] = [];
  const problem = (code: ErrorCode, params: ErrorParams, offset: number): FlowProblem => {
    const { line, column } = position(offset);
    return { code, message: formatErrorMessage(code, params), path: '', line, column, document: index, params };
  };
  for (const error of doc.errors) {
    // The composer recurses once per nesting level and reports a stack overflow as RESOURCE_EXHAUSTION.
    if (error.code === 'RESOURCE_EXHAUSTION') problems.push(problem('SLU_FLOW_TOO_LARGE', { reason: TOO_DEEP }, error.pos[0]));
    else problems.push(problem('SLU_FLOW_YAML_SYNTAX', { reason: yamlReason(error.message) }, error.pos[0]));
  }
  let value: unknown;
  if (problems.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount });
    } catch (error) {
      // The yaml package throws a ReferenceError for alias bombs, and its recursion may exhaust the stack.
      problems.push(
        error instanceof ReferenceError && /alias/i.test(error.message)
          ? problem('SLU_FLOW_YAML_ALIAS_LIMIT', { max: maxAliasCount }, start)
          : isStackOverflow(error)
            ? problem('SLU_FLOW_TOO_LARGE', { reason: TOO_DEEP }, start)
            : problem('SLU_FLOW_YAML_SYNTAX', { reason: error instanceof Error ? error.message : String(error) }, start),
      );
    }
  }
  const locate = (path: readonly PathSegment[], target: 'key' | 'value' = 'value'): SourcePosition => {
    const found = findNode(doc, path, target);
    const offset = found?.range?.[0] ?? (doc.contents as Node | null)?.range?.[0] ?? start;
    return position(offset);
  };
  return { index, value, problems, text, locate };
}

const TOO_DEEP = 'the YAML is nested too deeply to be read';

function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

/** The one document of a source too deeply nested to parse: no value, one problem at its start. */
function tooDeep(source: string): ParsedDocument {
  const params = { reason: TOO_DEEP };
  return {
    index: 0,
    value: undefined,
    problems: [{ code: 'SLU_FLOW_TOO_LARGE', message: formatErrorMessage('SLU_FLOW_TOO_LARGE', params), path: '', line: 1, column: 1, document: 0, params }],
    text: source,
    locate: () => ({ line: 1, column: 1, offset: 0 }),
  };
}

/** The message of a yaml error without its trailing source excerpt, which the CLI shows as FILE:LINE:COL. */
function yamlReason(message: string): string {
  const firstLine = message.split('\n')[0] ?? message;
  return firstLine.replace(/ at line \d+, column \d+:?$/, '').trim();
}

/**
 * Walk `path` through the document's nodes (resolving aliases) and return the deepest node reached: the exact node
 * when the path exists, else its closest existing ancestor, so a missing property points at its parent mapping.
 */
function findNode(doc: Document.Parsed, path: readonly PathSegment[], target: 'key' | 'value'): Node | undefined {
  let node: unknown = doc.contents;
  let reached: Node | undefined = isNodeLike(node) ? node : undefined;
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    let next: unknown;
    let pair: Pair | undefined;
    if (isMap(node)) {
      pair = node.items.find((item) => isPair(item) && keyOf(item) === String(segment));
      next = pair?.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    } else {
      return reached;
    }
    const last = i === path.length - 1;
    if (last && target === 'key' && pair && isNodeLike(pair.key)) return pair.key;
    if (!isNodeLike(next)) return pair && isNodeLike(pair.key) ? pair.key : reached;
    reached = next;
    node = next;
  }
  return reached;
}

/** The path of the deepest node (key or value) whose source range holds `offset`; empty when none does. */
function pathAt(doc: Document.Parsed, offset: number): PathSegment[] {
  const path: PathSegment[] = [];
  const holds = (node: unknown): node is Node => isNodeLike(node) && node.range !== undefined && node.range !== null && offset >= node.range[0] && offset < node.range[2];
  let node: unknown = doc.contents;
  while (path.length < 1000) {
    let next: unknown;
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = keyOf(pair);
        if (holds(pair.key)) return key === undefined ? path : [...path, key];
        if (holds(pair.value)) {
          if (key === undefined) return path;
          path.push(key);
          next = pair.value;
          break;
        }
      }
    } else if (isSeq(node)) {
      const i = node.items.findIndex(holds);
      if (i >= 0) {
        path.push(i);
        next = node.items[i];
      }
    }
    if (next === undefined) return path;
    node = next;
  }
  return path;
}

function keyOf(pair: Pair): string | undefined {
  const key = pair.key;
  if (isScalar(key)) return String(key.value);
  if (typeof key === 'string' || typeof key === 'number') return String(key);
  return undefined;
}

function isNodeLike(value: unknown): value is Node {
  return isScalar(value) || isMap(value) || isSeq(value) || isAlias(value);
}

/**
 * Internal-storage URIs, as Kestra writes them:
 *
 * - task-run files: `kestra:///{namespace with dots as /}/{flowId}/executions/{executionId}/tasks/{taskId}/{taskRunId}/{file}`
 * - FILE inputs:    `kestra:///{namespace with dots as /}/{flowId}/executions/{executionId}/inputs/{inputId}/{file}`
 *
 * A URI is an identity, so it is parsed strictly: there is exactly one spelling of each file. The scheme is
 * `kestra:` with an empty authority (`kestra:///a/b`, never `kestra://host/a/b`), no query or fragment, and every
 * path segment is non-empty, neither `.` nor `..`, and free of NUL, control characters and backslashes.
 *
 * Percent-encoding IS decoded (these are URIs: a file `my data.csv` is written `my%20data.csv`, as Java's `URI`
 * does in Kestra), and the rules above apply to the decoded segment, so `%2e%2e`, `%2F`, `%5C` and `%00` are
 * rejected exactly like `..`, `/`, `\` and NUL. Formatting encodes segments again, so parse and format round-trip.
 *
 * File names inside a task (`outputFiles`, `putFile(name)`) are plain relative paths, not URIs: see
 * {@link normalizeRelativePath}.
 */
import { SluiceError } from '@sluice/core';

export const STORAGE_SCHEME = 'kestra:';

/**
 * Names starting with this prefix are reserved for the temporary files a backend writes before renaming them into
 * place; no URI may use them, so a half-written file can never be addressed or listed.
 */
export const RESERVED_NAME_PREFIX = '.sluice-tmp-';

/** Where a task run's files live. */
export interface TaskRunScope {
  readonly namespace: string;
  readonly flowId: string;
  readonly executionId: string;
  readonly taskId: string;
  readonly taskRunId: string;
}

/** Where an execution's FILE inputs live. */
export interface InputScope {
  readonly namespace: string;
  readonly flowId: string;
  readonly executionId: string;
  readonly inputId: string;
}

function invalid(uri: string, reason: string): SluiceError {
  return new SluiceError('SLU_STORAGE_INVALID_URI', { uri, reason });
}

/** Why one decoded path segment is not acceptable, or undefined when it is. */
function segmentProblem(segment: string): string | undefined {
  if (segment === '') return 'empty path segment (a doubled or trailing "/")';
  if (segment === '.' || segment === '..') return `"${segment}" segments are not allowed`;
  if (segment.includes('\0')) return 'NUL bytes are not allowed';
  if (segment.includes('\\')) return 'backslashes are not allowed';
  if (segment.includes('/')) return 'an encoded "/" (%2F) is not allowed inside a segment';
  // eslint-disable-next-line no-control-regex
  if (/[\u0001-\u001f\u007f]/.test(segment)) return 'control characters are not allowed';
  if (segment.startsWith(RESERVED_NAME_PREFIX)) return `names starting with "${RESERVED_NAME_PREFIX}" are reserved`;
  return undefined;
}

/**
 * The decoded path segments of a `kestra:///` URI (`kestra:///company/team/f/x.csv` → `['company', 'team', 'f', 'x.csv']`).
 *
 * @throws SluiceError `SLU_STORAGE_INVALID_URI` `{uri, reason}`: wrong scheme, a host, a query or fragment, bad
 *   percent-encoding, an empty path, or a segment that is empty, `.`, `..`, or holds NUL, a control character or a
 *   backslash (raw or percent-encoded).
 */
export function parseStorageUri(uri: string): string[] {
  return parsePath(uri, false);
}

/**
 * Like {@link parseStorageUri} for a prefix (a "directory"): the root `kestra:///` (→ `[]`) and one trailing slash
 * (`kestra:///a/b/`) are accepted.
 */
export function parseStoragePrefix(uri: string): string[] {
  return parsePath(uri, true);
}

function parsePath(uri: string, asPrefix: boolean): string[] {
  if (typeof uri !== 'string') throw invalid(String(uri), 'must be a string');
  if (uri.includes('\0')) throw invalid(uri, 'NUL bytes are not allowed');
  if (!uri.startsWith(`${STORAGE_SCHEME}//`)) {
    throw invalid(uri, `the scheme must be ${STORAGE_SCHEME}/// (internal storage)`);
  }
  const rest = uri.slice(STORAGE_SCHEME.length + 2);
  if (!rest.startsWith('/')) throw invalid(uri, 'a host is not allowed: internal-storage URIs start with kestra:///');
  if (/[?#]/.test(rest)) throw invalid(uri, 'a query or fragment is not allowed');
  let path = rest.slice(1);
  if (asPrefix) {
    if (path === '') return [];
    if (path.endsWith('/')) path = path.slice(0, -1);
  }
  if (path === '') throw invalid(uri, 'the path is empty');
  return path.split('/').map((raw) => {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw invalid(uri, `bad percent-encoding in "${raw}"`);
    }
    const problem = segmentProblem(segment);
    if (problem !== undefined) throw invalid(uri, problem);
    return segment;
  });
}

/**
 * A URI from decoded segments (the inverse of {@link parseStorageUri}); each segment is percent-encoded.
 *
 * @throws SluiceError `SLU_STORAGE_INVALID_URI` when a segment is not acceptable (see {@link parseStorageUri}).
 */
export function formatStorageUri(segments: readonly string[]): string {
  const uri = `${STORAGE_SCHEME}///${segments.map(encodeURIComponent).join('/')}`;
  if (segments.length === 0) throw invalid(uri, 'the path is empty');
  for (const segment of segments) {
    const problem = segmentProblem(segment);
    if (problem !== undefined) throw invalid(uri, problem);
  }
  return uri;
}

/**
 * A relative file name as written in a task (`out/data.csv`), normalised: `.` segments and repeated slashes are
 * dropped (`./out//data.csv` → `out/data.csv`). Names are NOT percent-decoded: `%2e%2e` is a file of that name.
 *
 * @throws SluiceError `SLU_STORAGE_INVALID_URI` `{uri: name, reason}` for an empty name, an absolute name (`/x`,
 *   `C:\x`), a `..` segment, a NUL byte, a backslash, a control character, a trailing slash or a reserved name.
 */
export function normalizeRelativePath(name: string): string {
  if (typeof name !== 'string' || name === '') throw invalid(String(name), 'a file name must be a non-empty string');
  if (name.includes('\0')) throw invalid(name, 'NUL bytes are not allowed');
  if (name.includes('\\')) throw invalid(name, 'backslashes are not allowed (use "/")');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw invalid(name, 'an absolute name is not allowed: use a relative path');
  if (name.endsWith('/')) throw invalid(name, 'a file name must not end with "/"');
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.length === 0) throw invalid(name, 'the name is empty once normalised');
  for (const segment of segments) {
    const problem = segmentProblem(segment);
    if (problem !== undefined) throw invalid(name, problem);
  }
  return segments.join('/');
}

/** One segment from an id (flow id, execution id, ...): it must be a valid segment as is. */
function idSegment(kind: string, value: string): string {
  const problem = typeof value === 'string' ? segmentProblem(value) : 'must be a string';
  if (problem !== undefined) throw invalid(String(value), `${kind}: ${problem}`);
  return value;
}

function namespaceSegments(namespace: string): string[] {
  if (typeof namespace !== 'string' || namespace === '') throw invalid(String(namespace), 'namespace: must be a non-empty string');
  return namespace.split('.').map((part) => idSegment('namespace', part));
}

/** The folder of an execution: `kestra:///{ns}/{flowId}/executions/{executionId}` as segments. */
export function executionSegments(scope: { readonly namespace: string; readonly flowId: string; readonly executionId: string }): string[] {
  return [
    ...namespaceSegments(scope.namespace),
    idSegment('flowId', scope.flowId),
    'executions',
    idSegment('executionId', scope.executionId),
  ];
}

/** The prefix URI of everything an execution stores (`kestra:///{ns}/{flowId}/executions/{executionId}/`). */
export function executionPrefixUri(scope: { readonly namespace: string; readonly flowId: string; readonly executionId: string }): string {
  return `${formatStorageUri(executionSegments(scope))}/`;
}

/**
 * The URI of a file a task run stores. `name` is a relative path (see {@link normalizeRelativePath}).
 *
 * @throws SluiceError `SLU_STORAGE_INVALID_URI` for a bad name or id.
 */
export function taskRunFileUri(scope: TaskRunScope, name: string): string {
  return formatStorageUri([
    ...executionSegments(scope),
    'tasks',
    idSegment('taskId', scope.taskId),
    idSegment('taskRunId', scope.taskRunId),
    ...normalizeRelativePath(name).split('/'),
  ]);
}

/**
 * The URI of an execution's FILE input. `fileName` is the uploaded file's name (a relative path).
 *
 * @throws SluiceError `SLU_STORAGE_INVALID_URI` for a bad name or id.
 */
export function inputFileUri(scope: InputScope, fileName: string): string {
  return formatStorageUri([
    ...executionSegments(scope),
    'inputs',
    idSegment('inputId', scope.inputId),
    ...normalizeRelativePath(fileName).split('/'),
  ]);
}

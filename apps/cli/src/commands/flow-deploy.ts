import type { Flow } from '@sluice/core';
import { SluiceError } from '@sluice/core';
import { ApiClient, ApiError, apiPath, reportingApiErrors } from '../api-client.js';
import type { ServerOptions } from '../api-client.js';
import type { CliIO } from '../io.js';
import { problemLine, validateTargets } from './flow-validate.js';

export interface DeployOptions {
  readonly server: ServerOptions;
  /** Deploy the whole namespace in one request (every flow must belong to it). */
  readonly namespace?: string;
  /** With `namespace`: delete the namespace's flows that are not deployed. */
  readonly deleteMissing?: boolean;
}

/** A flow as the API returns it (only what is read here). */
interface FlowJson {
  readonly id: string;
  readonly namespace: string;
  readonly revision: number;
}

interface Deployable {
  readonly file: string;
  readonly source: string;
  readonly flow: Flow;
}

/** Flows searched per page when listing a namespace (the API's largest page). */
const SEARCH_PAGE = 500;

/**
 * `sluice flow deploy DIR_OR_FILE...`: validate every flow locally, deploy nothing if one is invalid (exit 1), else
 * create or update each flow (or deploy the namespace in one request with `--namespace`), one line per flow.
 */
export async function flowDeployCommand(targets: readonly string[], options: DeployOptions, io: CliIO): Promise<number> {
  const { documents, problems } = await validateTargets(targets);
  if (problems.length > 0) {
    for (const p of problems) io.stderr(problemLine(p));
    io.stderr(`sluice: nothing deployed: ${problems.length} problem${problems.length === 1 ? '' : 's'} in the flows`);
    return 1;
  }
  const flows = documents.flatMap(({ file, result }) => (result.flow ? [{ file, source: result.source, flow: result.flow }] : []));
  checkUnique(flows);
  const api = new ApiClient(options.server);
  const { namespace } = options;
  if (namespace === undefined) return reportingApiErrors(io, () => deployEach(api, flows, io));
  const outside = flows.find((f) => f.flow.namespace !== namespace);
  if (outside) throw usage(`${outside.file}: flow ${name(outside.flow)} is not in namespace ${namespace} (--namespace deploys only its own flows)`);
  return reportingApiErrors(io, () => deployNamespace(api, namespace, flows, options.deleteMissing ?? false, io));
}

async function deployEach(api: ApiClient, flows: readonly Deployable[], io: CliIO): Promise<number> {
  for (const { file, source, flow } of flows) {
    const yaml = { body: source, contentType: 'application/x-yaml' };
    try {
      const before = await api.find<FlowJson>(apiPath('api', 'v1', 'flows', flow.namespace, flow.id));
      const after = before
        ? await api.request<FlowJson>('PUT', apiPath('api', 'v1', 'flows', flow.namespace, flow.id), yaml)
        : await api.request<FlowJson>('POST', '/api/v1/flows', yaml);
      io.stdout(`${name(flow)}: revision ${after.revision} (${change(before?.revision, after.revision)})`);
    } catch (error) {
      if (error instanceof ApiError) error.context = file;
      throw error;
    }
  }
  return 0;
}

async function deployNamespace(api: ApiClient, namespace: string, flows: readonly Deployable[], deleteMissing: boolean, io: CliIO): Promise<number> {
  const before = new Map((await namespaceFlows(api, namespace)).map((f) => [f.id, f.revision]));
  // The API's `delete` defaults to true: always say which one is meant.
  const path = `${apiPath('api', 'v1', 'flows', namespace)}?delete=${deleteMissing}`;
  const body = flows.map((f, i) => withSeparator(f.source, i)).join('');
  const saved = await api.request<FlowJson[]>('POST', path, { body, contentType: 'application/x-yaml' }).catch((error: unknown) => {
    // A problem in document N of the body is a problem in the file of flow N.
    if (error instanceof ApiError && typeof error.details.document === 'number') error.context = flows[error.details.document]?.file;
    throw error;
  });
  for (const flow of saved) io.stdout(`${name(flow)}: revision ${flow.revision} (${change(before.get(flow.id), flow.revision)})`);
  if (deleteMissing) {
    const kept = new Set(saved.map((f) => f.id));
    for (const id of [...before.keys()].filter((id) => !kept.has(id)).sort()) io.stdout(`${namespace}.${id}: deleted`);
  }
  return 0;
}

/** The non-deleted flows of exactly `namespace` (search also returns its child namespaces). */
async function namespaceFlows(api: ApiClient, namespace: string): Promise<FlowJson[]> {
  const found: FlowJson[] = [];
  for (let page = 1; ; page++) {
    const query = new URLSearchParams({ namespace, page: String(page), size: String(SEARCH_PAGE) });
    const { results, total } = await api.request<{ results: FlowJson[]; total: number }>('GET', `/api/v1/flows/search?${query}`);
    found.push(...results);
    if (results.length === 0 || page * SEARCH_PAGE >= total) return found.filter((f) => f.namespace === namespace);
  }
}

/** A document of the namespace body: every one after the first starts with its own `---` line. */
function withSeparator(source: string, index: number): string {
  const text = source.endsWith('\n') ? source : `${source}\n`;
  return index === 0 || /^---(\s|$)/.test(text) ? text : `---\n${text}`;
}

function change(before: number | undefined, after: number): string {
  if (before === undefined) return 'created';
  return after === before ? 'unchanged' : 'updated';
}

/** Two documents for the same flow would silently overwrite each other: refuse before any request. */
function checkUnique(flows: readonly Deployable[]): void {
  const seen = new Map<string, string>();
  for (const { file, flow } of flows) {
    const first = seen.get(name(flow));
    if (first !== undefined) throw usage(`flow ${name(flow)} is defined twice: in ${first} and in ${file}`);
    seen.set(name(flow), file);
  }
}

function name(flow: { namespace: string; id: string }): string {
  return `${flow.namespace}.${flow.id}`;
}

function usage(reason: string): SluiceError {
  return new SluiceError('SLU_CLI_USAGE', { reason });
}

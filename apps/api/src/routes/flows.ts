/**
 * Flow endpoints, with Kestra's paths and JSON shapes (KESTRA.md A6), under `/api/v1`:
 *
 * | route | success | errors |
 * |---|---|---|
 * | `POST /flows` (YAML) | 200 flow with `revision` and `source` | 400 invalid, 409 exists, 413, 415 |
 * | `POST /flows/validate` (YAML, `---` documents) | 200 one entry per document | 413, 415 |
 * | `POST /flows/{namespace}?delete=true` (YAML documents) | 200 list of flows | 400 (nothing changes), 413, 415 |
 * | `GET /flows/search?namespace&q&page&size&sort` and Kestra 1.x's `filters[field][OP]=value` (search-query.ts) | 200 `{results, total}` | 400, also for an unknown parameter, filter field or operation |
 * | `GET /flows/{namespace}` (Kestra 1.x's flows of a namespace) | 200 list of flows without source, by id: this namespace only, `[]` for none | 400 bad namespace or any query parameter |
 * | `GET /flows/{namespace}/{id}?source&revision` | 200 flow | 400, 404 |
 * | `PUT /flows/{namespace}/{id}` (YAML) | 200 flow | 400 invalid or id/namespace mismatch, 404, 413, 415 |
 * | `GET /flows/{namespace}/{id}/revisions` | 200 list of flows with source, oldest first | 400, 404 |
 * | `GET /flows/{namespace}/{id}/graph?revision` | 200 `{nodes, edges, clusters}` (Kestra's FlowGraph) | 400, 404 |
 * | `DELETE /flows/{namespace}/{id}` | 204 | 400, 404 |
 *
 * Every body is validated completely before anything is written, so a bad request changes nothing stored.
 */
import { FLOW_ID_MAX, FLOW_ID_PATTERN, flowLabels, NAMESPACE_MAX, NAMESPACE_PATTERN, parseYamlDocuments, SluiceError } from '@sluice/core';
import type { DocumentValidation, Flow, FlowProblem, FlowValidator } from '@sluice/core';
import { FLOW_SORT_FIELDS } from '@sluice/db';
import { buildFlowGraph } from '@sluice/engine';
import type { GraphFlow } from '@sluice/engine';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { FlowStore, StoredFlow } from '../flow-store.js';
import { INTEGER_PARAMETER_MAX, pagingQueryProperties, rejectUnknownQueryParameters, SEARCH_PAGE_MAX, YAML_CONTENT_TYPES } from './http.js';
import { filtersDescription, parseSearchQuery, rejectUnknownSearchParameters, searchErrors, sortProperty } from './search-query.js';

const YAML_TYPES: ReadonlySet<string> = new Set(YAML_CONTENT_TYPES);
const namespacePattern = new RegExp(NAMESPACE_PATTERN);
const idPattern = new RegExp(FLOW_ID_PATTERN);

/**
 * The flow as Kestra 1.x returns it: `id`, `namespace`, `revision`, the flow's properties, `disabled` (false unless the
 * YAML says so), `deleted`, `labels` as a list of `{key, value}` (the YAML may give a map or a list; left out when it
 * has none, as Kestra leaves out empty lists), and `source` when asked for.
 */
export function flowJson(stored: StoredFlow, withSource: boolean): Record<string, unknown> {
  const { id: _id, namespace: _namespace, revision: _revision, source: _source, deleted: _deleted, labels: _labels, disabled, ...properties } = stored.flow;
  const labels = flowLabels(stored.flow as Pick<Flow, 'labels'>);
  return {
    id: stored.id,
    namespace: stored.namespace,
    revision: stored.revision,
    ...properties,
    ...(labels.length > 0 ? { labels } : {}),
    disabled: disabled === true,
    deleted: stored.deleted,
    ...(stored.updated ? { updated: stored.updated.toISOString() } : {}),
    ...(withSource ? { source: stored.source } : {}),
  };
}

/** The problem as the API shows it (no template parameters, no document index: the entry has it). */
function problemJson(problem: FlowProblem): { code: string; message: string; path: string; line: number; column: number } {
  return { code: problem.code, message: problem.message, path: problem.path, line: problem.line, column: problem.column };
}

/** The YAML text of a request; anything but a YAML content type is a 415 (Fastify rejects most before this). */
function yamlBody(request: FastifyRequest): string {
  const header = request.headers['content-type'];
  const type = header?.split(';')[0]?.trim().toLowerCase();
  if (request.body === undefined || request.body === null) {
    if (type !== undefined && type !== '' && !YAML_TYPES.has(type)) {
      throw new SluiceError('SLU_API_UNSUPPORTED_MEDIA_TYPE', { contentType: header, expected: 'application/x-yaml' });
    }
    return '';
  }
  if (typeof request.body !== 'string' || type === undefined || !YAML_TYPES.has(type)) {
    throw new SluiceError('SLU_API_UNSUPPORTED_MEDIA_TYPE', { contentType: header ?? 'none', expected: 'application/x-yaml' });
  }
  return request.body;
}

function checkNamespace(namespace: string): void {
  if (namespace.length > NAMESPACE_MAX || !namespacePattern.test(namespace)) {
    throw new SluiceError('SLU_FLOW_INVALID_NAMESPACE', { actual: JSON.stringify(namespace), pattern: NAMESPACE_PATTERN, max: NAMESPACE_MAX }, { in: 'path' });
  }
}

function checkId(id: string): void {
  if (id.length > FLOW_ID_MAX || !idPattern.test(id)) {
    throw new SluiceError('SLU_FLOW_INVALID_ID', { actual: JSON.stringify(id), pattern: FLOW_ID_PATTERN, max: FLOW_ID_MAX }, { in: 'path' });
  }
}

/** One error for every problem of every document: the first problem's code and position, all of them in details. */
function problemsError(results: readonly DocumentValidation[]): SluiceError {
  const problems = results.flatMap((r) => r.problems);
  const first = problems[0];
  if (!first) return new SluiceError('SLU_FLOW_EMPTY');
  return new SluiceError(first.code, first.params, {
    path: first.path,
    line: first.line,
    column: first.column,
    document: first.document,
    problems: problems.map((p) => ({ ...problemJson(p), document: p.document })),
  });
}

function notFound(namespace: string, id: string, revision?: number): SluiceError {
  return new SluiceError('SLU_API_FLOW_NOT_FOUND', { namespace, id, revision: revision === undefined ? '' : ` (revision ${revision})` }, { namespace, id, ...(revision === undefined ? {} : { revision }) });
}

function asRecord(flow: unknown): Record<string, unknown> {
  return flow as Record<string, unknown>;
}

const yamlBodyDoc = { consumes: ['application/x-yaml'] };
const flowParams = {
  type: 'object',
  required: ['namespace', 'id'],
  properties: { namespace: { type: 'string' }, id: { type: 'string' } },
} as const;
const revisionQuery = { type: 'integer', minimum: 1, maximum: INTEGER_PARAMETER_MAX } as const;

export const flowRoutes: FastifyPluginAsync<{ flows: FlowStore; validator: FlowValidator }> = async (app, { flows, validator }) => {
  const parseOne = (source: string): { id: string; namespace: string; flow: Record<string, unknown> } => {
    const { flow } = validator.parseFlow(source);
    return { id: flow.id, namespace: flow.namespace, flow: asRecord(flow) };
  };

  app.post('/flows', { schema: { tags: ['flows'], summary: 'Create a flow from YAML', ...yamlBodyDoc } }, async (request) => {
    const source = yamlBody(request);
    const { id, namespace, flow } = parseOne(source);
    if (await flows.get(namespace, id)) throw new SluiceError('SLU_API_FLOW_EXISTS', { namespace, id }, { namespace, id });
    return flowJson(await flows.save(namespace, id, source, flow), true);
  });

  app.post('/flows/validate', { schema: { tags: ['flows'], summary: 'Validate YAML flows (documents split by ---)', ...yamlBodyDoc } }, async (request) => {
    const source = yamlBody(request);
    return validator.validateSource(source).map((result) => {
      const names = result.flow ? { id: result.flow.id, namespace: result.flow.namespace } : namesOf(result.source);
      return {
        index: result.index,
        ...(names.id === undefined ? {} : { flow: names.id }),
        ...(names.namespace === undefined ? {} : { namespace: names.namespace }),
        ...(result.problems.length > 0 ? { constraints: result.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('\n') } : {}),
        problems: result.problems.map(problemJson),
        // Kestra's shape: warnings as lines, and the paths of deprecated keys.
        ...(result.warnings && result.warnings.length > 0
          ? {
              warnings: result.warnings.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)),
              deprecationPaths: result.warnings.filter((p) => p.code === 'SLU_FLOW_DEPRECATED').map((p) => p.path),
            }
          : {}),
      };
    });
  });

  const searchQuery = {
    type: 'object',
    properties: {
      namespace: { type: 'string' },
      q: { type: 'string' },
      ...pagingQueryProperties,
      sort: sortProperty(FLOW_SORT_FIELDS),
    },
  } as const;
  app.get(
    '/flows/search',
    {
      schema: { tags: ['flows'], summary: 'Search flows', description: filtersDescription('flows'), querystring: searchQuery },
      preValidation: rejectUnknownSearchParameters(searchQuery),
    },
    async (request) => {
      const query = request.query as { namespace?: string; q?: string; page: number; size: number };
      const { filters, sort } = parseSearchQuery(request.query as Record<string, unknown>, 'flows', FLOW_SORT_FIELDS);
      const found = await searchErrors(flows.search({
        ...(query.namespace ? { namespace: query.namespace } : {}),
        ...(query.q ? { q: query.q } : {}),
        ...(filters.length > 0 ? { filters } : {}),
        ...(sort.length > 0 ? { sort } : {}),
        page: query.page,
        size: query.size,
      }));
      return { results: found.results.map((f) => flowJson(f, false)), total: found.total };
    },
  );

  // `/flows/search` is a static path: it wins over this one (a namespace named `search` is listed through `/flows/search?namespace=search`).
  const noQuery = { type: 'object', properties: {} } as const;
  app.get(
    '/flows/:namespace',
    {
      schema: {
        tags: ['flows'],
        summary: 'The flows of a namespace',
        description: "Kestra's flows of a namespace: every flow of exactly this namespace (not its children), deleted ones left out, by id, without their source. `[]` when it has none.",
        params: { type: 'object', required: ['namespace'], properties: { namespace: { type: 'string' } } },
        querystring: noQuery,
      },
      preValidation: rejectUnknownQueryParameters(noQuery),
    },
    async (request) => {
      const { namespace } = request.params as { namespace: string };
      checkNamespace(namespace);
      const found = await flowsOfNamespace(flows, namespace);
      return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((f) => flowJson(f, false));
    },
  );

  app.get(
    '/flows/:namespace/:id',
    {
      schema: {
        tags: ['flows'],
        summary: 'Get a flow',
        params: flowParams,
        querystring: { type: 'object', properties: { source: { type: 'boolean', default: false }, revision: revisionQuery } },
      },
    },
    async (request) => {
      const { namespace, id } = request.params as { namespace: string; id: string };
      const query = request.query as { source: boolean; revision?: number };
      checkNamespace(namespace);
      checkId(id);
      const stored = await flows.get(namespace, id, query.revision);
      if (!stored) throw notFound(namespace, id, query.revision);
      return flowJson(stored, query.source);
    },
  );

  app.put('/flows/:namespace/:id', { schema: { tags: ['flows'], summary: 'Update a flow from YAML', params: flowParams, ...yamlBodyDoc } }, async (request) => {
    const { namespace, id } = request.params as { namespace: string; id: string };
    checkNamespace(namespace);
    checkId(id);
    const source = yamlBody(request);
    const parsed = parseOne(source);
    if (parsed.namespace !== namespace) throw new SluiceError('SLU_API_FLOW_MISMATCH', { property: 'namespace', actual: parsed.namespace, expected: namespace });
    if (parsed.id !== id) throw new SluiceError('SLU_API_FLOW_MISMATCH', { property: 'id', actual: parsed.id, expected: id });
    if (!(await flows.get(namespace, id))) throw notFound(namespace, id);
    return flowJson(await flows.save(namespace, id, source, parsed.flow), true);
  });

  app.get('/flows/:namespace/:id/revisions', { schema: { tags: ['flows'], summary: 'Every revision of a flow', params: flowParams } }, async (request) => {
    const { namespace, id } = request.params as { namespace: string; id: string };
    checkNamespace(namespace);
    checkId(id);
    const revisions = await flows.revisions(namespace, id);
    if (revisions.length === 0) throw notFound(namespace, id);
    return revisions.map((r) => flowJson(r, true));
  });

  app.get(
    '/flows/:namespace/:id/graph',
    {
      schema: {
        tags: ['flows'],
        summary: "A flow's topology: nodes, edges and clusters (flowable tasks, triggers), as Kestra's FlowGraph",
        params: flowParams,
        querystring: { type: 'object', properties: { revision: revisionQuery } },
      },
    },
    async (request) => {
      const { namespace, id } = request.params as { namespace: string; id: string };
      const { revision } = request.query as { revision?: number };
      checkNamespace(namespace);
      checkId(id);
      const stored = await flows.get(namespace, id, revision);
      if (!stored) throw notFound(namespace, id, revision);
      return buildFlowGraph(stored.flow as GraphFlow);
    },
  );

  app.delete('/flows/:namespace/:id', { schema: { tags: ['flows'], summary: 'Delete a flow (its revisions are kept)', params: flowParams } }, async (request, reply) => {
    const { namespace, id } = request.params as { namespace: string; id: string };
    checkNamespace(namespace);
    checkId(id);
    if (!(await flows.delete(namespace, id))) throw notFound(namespace, id);
    return reply.status(204).send();
  });

  app.post(
    '/flows/:namespace',
    {
      schema: {
        tags: ['flows'],
        summary: 'Deploy every flow of a namespace (delete=true removes flows missing from the body)',
        params: { type: 'object', required: ['namespace'], properties: { namespace: { type: 'string' } } },
        querystring: { type: 'object', properties: { delete: { type: 'boolean', default: true } } },
        ...yamlBodyDoc,
      },
    },
    async (request) => {
      const { namespace } = request.params as { namespace: string };
      const { delete: deleteMissing } = request.query as { delete: boolean };
      checkNamespace(namespace);
      const results = validator.validateSource(yamlBody(request));
      const valid = results.flatMap((r) => (r.flow && r.problems.length === 0 ? [{ index: r.index, source: r.source, flow: r.flow }] : []));
      if (valid.length !== results.length) throw problemsError(results);
      const seen = new Map<string, number>();
      const documents = valid.map((r) => {
        const flow = r.flow;
        if (flow.namespace !== namespace) {
          throw new SluiceError('SLU_API_FLOW_MISMATCH', { property: 'namespace', actual: flow.namespace, expected: namespace }, { document: r.index, id: flow.id });
        }
        const before = seen.get(flow.id);
        if (before !== undefined) {
          throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `flow id "${flow.id}" appears in documents ${before} and ${r.index}` }, { document: r.index, id: flow.id });
        }
        seen.set(flow.id, r.index);
        return { id: flow.id, source: r.source, flow: asRecord(flow) };
      });

      // Everything is valid: write. (No cross-flow transaction yet, see flow-store.ts.)
      const saved: StoredFlow[] = [];
      for (const document of documents) saved.push(await flows.save(namespace, document.id, document.source, document.flow));
      if (deleteMissing) {
        for (const existing of await flowsOfNamespace(flows, namespace)) {
          if (!seen.has(existing.id)) await flows.delete(namespace, existing.id);
        }
      }
      return saved.map((f) => flowJson(f, true));
    },
  );
};

/** Every non-deleted flow of exactly this namespace (search also matches child namespaces). */
async function flowsOfNamespace(flows: FlowStore, namespace: string): Promise<StoredFlow[]> {
  const all: StoredFlow[] = [];
  for (let page = 1; ; page++) {
    const { results, total } = await flows.search({ namespace, page, size: SEARCH_PAGE_MAX });
    all.push(...results);
    if (results.length === 0 || page * SEARCH_PAGE_MAX >= total) break;
  }
  return all.filter((f) => f.namespace === namespace);
}

/** id and namespace of an invalid document when it can still be read, for the validate listing. */
function namesOf(source: string): { id?: string; namespace?: string } {
  const [document] = parseYamlDocuments(source, { maxAliasCount: 100 });
  const value = document?.problems.length === 0 ? document.value : undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const { id, namespace } = value as Record<string, unknown>;
  return { ...(typeof id === 'string' ? { id } : {}), ...(typeof namespace === 'string' ? { namespace } : {}) };
}

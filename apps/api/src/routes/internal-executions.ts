/**
 * The execution store for tasks that run on remote workers (`log.Fetch`, `execution.Resume`), under
 * `/api/v1/internal`: only the worker token (`SLUICE_WORKER_TOKEN`) opens these routes (see auth.ts), and they are
 * registered only when it is configured. The work is `executions-access.ts`'s; these routes only carry it.
 *
 * | route | success | errors |
 * |---|---|---|
 * | `GET /internal/executions/{id}` | 200 `{id, namespace, flowId, state}` | 404 `SLU_API_EXECUTION_NOT_FOUND` |
 * | `GET /internal/executions/{id}/logs?minLevel&taskId&after&size` (`taskId` repeated for several tasks) | 200 `{results: [log line], next?}`, by (timestamp, id); `next` is the `after` of the next page, absent on the last one (an unknown execution has no lines) | 400 bad level, size or cursor |
 * | `GET /internal/executions/{id}/children/{taskRunId}?after` | 200 `{results: [{iteration, executionId, state, outputs?}], next?}`: the children the task run waits for, by batch number, after batch `after` | 400 |
 * | `POST /internal/executions/{id}/resume` JSON `{inputs?}` | 204 (resumed; `inputs` stored as the `onResume` output, as given) | 400; 404; 409 `SLU_API_EXECUTION_NOT_PAUSED` (`details.state`) |
 *
 * Errors carry their parameters in `details.params`, so the worker's client rebuilds the same `SluiceError`.
 */
import { SluiceError } from '@sluice/core';
import type { ExecutionRepository, LogLevel } from '@sluice/db';
import { LOG_LEVELS } from '@sluice/db';
import type { FastifyPluginAsync } from 'fastify';
import { remotable } from './http.js';
import { CHILD_OUTPUTS_PAGE, MAX_LOG_PAGE } from '../executions-access.js';
import type { DbExecutionsAccess } from '../executions-access.js';

export interface InternalExecutionRouteOptions {
  readonly access: DbExecutionsAccess;
  /** The store behind `access`, for the pages of children (the access reads them all). */
  readonly executions: Pick<ExecutionRepository, 'childOutputsPage'>;
}

const tags = ['internal'];
const params = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } as const;
const BODY_LIMIT = 1024 * 1024;

export const internalExecutionRoutes: FastifyPluginAsync<InternalExecutionRouteOptions> = async (app, options) => {
  const { access, executions } = options;
  // JSON bodies here only (the public API speaks YAML and multipart); encapsulated in this plugin.
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new SluiceError('SLU_API_BAD_REQUEST', { reason: 'the body is not valid JSON' }), undefined);
    }
  });

  app.get('/internal/executions/:id', { schema: { tags, summary: 'An execution\'s id, flow and state (workers)', params } }, async (request) => {
    const { id } = request.params as { id: string };
    return remotable(async () => {
      const execution = await access.get(id);
      if (!execution) throw new SluiceError('SLU_API_EXECUTION_NOT_FOUND', { id }, { id });
      return execution;
    });
  });

  app.get(
    '/internal/executions/:id/logs',
    {
      schema: {
        tags,
        summary: 'A page of an execution\'s log lines (workers: log.Fetch)',
        params,
        querystring: {
          type: 'object',
          properties: {
            minLevel: { enum: [...LOG_LEVELS] },
            taskId: { type: 'array', items: { type: 'string' } },
            after: { type: 'string' },
            size: { type: 'integer', minimum: 1, maximum: MAX_LOG_PAGE },
          },
        },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string };
      const query = request.query as { minLevel?: LogLevel; taskId?: string[]; after?: string; size?: number };
      return remotable(() =>
        access.logPage(
          id,
          { minLevel: query.minLevel ?? 'TRACE', ...(query.taskId && query.taskId.length > 0 ? { taskIds: query.taskId } : {}) },
          { ...(query.after === undefined ? {} : { after: query.after }), ...(query.size === undefined ? {} : { size: query.size }) },
        ),
      );
    },
  );

  app.get(
    '/internal/executions/:id/children/:taskRunId',
    {
      schema: {
        tags,
        summary: "A page of the child executions a task run waits for, with their outputs, by batch number (workers: ForEachItem's merge)",
        params: { type: 'object', required: ['id', 'taskRunId'], properties: { id: { type: 'string', minLength: 1 }, taskRunId: { type: 'string', minLength: 1 } } },
        querystring: { type: 'object', properties: { after: { type: 'integer', minimum: 0, default: 0 } } },
      },
    },
    async (request) => {
      const { id, taskRunId } = request.params as { id: string; taskRunId: string };
      const { after } = request.query as { after: number };
      const page = await executions.childOutputsPage(id, taskRunId, after, CHILD_OUTPUTS_PAGE);
      return { results: page.map(({ outputs, ...child }) => ({ ...child, ...(outputs ? { outputs } : {}) })), ...(page.length === CHILD_OUTPUTS_PAGE ? { next: page[page.length - 1]!.iteration } : {}) };
    },
  );

  app.post(
    '/internal/executions/:id/resume',
    {
      schema: {
        tags,
        summary: 'Resume a PAUSED execution, its onResume inputs stored as given (workers: execution.Resume)',
        params,
        body: { type: ['object', 'null'], properties: { inputs: { type: 'object' } } },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string };
      const body = (request.body ?? {}) as { inputs?: Record<string, unknown> };
      await remotable(() => access.resume(id, body.inputs));
      return reply.status(204).send();
    },
  );
};

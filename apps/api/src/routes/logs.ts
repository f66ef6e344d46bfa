/**
 * Log endpoints and the live follow of an execution, with Kestra's paths and shapes (KESTRA.md A6), under `/api/v1`:
 *
 * | route | success | errors |
 * |---|---|---|
 * | `GET /logs/search?namespace&flowId&executionId&taskId&minLevel&q&startDate&endDate&page&size&sort` and Kestra 1.x's `filters[field][OP]=value` (search-query.ts) | 200 `{results: [log line], total}`, newest first | 400 bad level, date, page or size, an unknown parameter, filter field or operation |
 * | `GET /logs/{executionId}?minLevel&taskId&taskRunId` | 200 `[{namespace, flowId, executionId, taskId, taskRunId, attemptNumber, timestamp, level, message, deleted}]` by time | 400 bad level; 404 |
 * | `DELETE /logs/{executionId}?minLevel&taskId&taskRunId&attempt` | 200 `{deleted}` (the count of lines deleted) | 400 bad level or attempt; 404 |
 * | `GET /logs/{executionId}/download?minLevel&taskId&taskRunId` | 200 text/plain, `timestamp level [taskId] message` a line, streamed | 400; 404 |
 * | `GET /logs/{executionId}/follow?minLevel&taskId&taskRunId&skip` | SSE: `id: progress` and one log line as `data`, stored lines first (but the first `skip` of them, in storage order: Sluice's, for a client that read them with `GET /logs/{id}`) then new ones; once the execution has ended and every line is sent, `id: end` with no data, and the stream ends | 400; 404 |
 * | `GET /executions/{id}/follow` | SSE: `id: progress` and the execution (as `GET /executions/{id}`) as `data`, at once and on every change; once it has ended, `id: end` and the execution, and the stream ends | 404 |
 *
 * Follow events are Kestra's (follow.ts): no `event:` name, the kind as the SSE `id`. Every `data` of a log follow
 * is a log line, so a client that reads only `data` never takes the end for one. Follows poll the database (every
 * 250 ms by default) from the last line id or execution snapshot seen.
 *
 * A log line is Kestra's LogEntry: a null field is left out, as Kestra does, except `attemptNumber` (Kestra always
 * writes it: null for a line of the execution itself); `deleted` is false. Kestra's `thread` (the JVM thread that
 * logged) and `triggerId` (set on a trigger's own lines, which have no execution) are never known here: left out, as
 * Kestra leaves them out when null.
 */
import { Readable } from 'node:stream';
import { SluiceError } from '@sluice/core';
import type { ExecutionRepository, LogFilter, LogLevel, LogRepository, StoredExecution, StoredLogEntry } from '@sluice/db';
import { LOG_LEVELS, LOG_SORT_FIELDS, TERMINAL_STATES } from '@sluice/db';
import type { FastifyPluginAsync } from 'fastify';
import { executionJson } from './executions.js';
import { createFollowHub } from './follow.js';
import type { FollowTiming } from './follow.js';
import { INTEGER_PARAMETER_MAX, pagingQueryProperties, parseDate } from './http.js';
import { filtersDescription, parseSearchQuery, rejectUnknownSearchParameters, searchErrors, sortProperty } from './search-query.js';
import type { FlowStore } from '../flow-store.js';
import { secretInputMasker } from '../secret-inputs.js';

export type LogStore = Pick<LogRepository, 'list' | 'stream' | 'search' | 'deleteByExecution'>;

/** Largest page of `GET /logs/search` (log lines are small: twice the other searches' limit). */
export const LOG_SEARCH_PAGE_MAX = 1000;

export interface LogRouteOptions extends FollowTiming {
  readonly executions: Pick<ExecutionRepository, 'get' | 'stateOf'>;
  readonly logs: LogStore;
  /** To mask SECRET inputs in the executions the follow stream sends; without it they are sent as stored. */
  readonly flows?: FlowStore;
}

/** Lines sent per poll of a log follow (the rest go on the next poll, at once). */
const FOLLOW_PAGE = 500;
/** Download chunk size: lines are written in chunks of about this many characters. */
const DOWNLOAD_CHUNK = 64 * 1024;

/** A log line as Kestra returns it (its LogEntry). */
export function logJson(entry: StoredLogEntry): Record<string, unknown> {
  return {
    namespace: entry.namespace,
    flowId: entry.flowId,
    ...(entry.taskId === null ? {} : { taskId: entry.taskId }),
    executionId: entry.executionId,
    ...(entry.taskRunId === null ? {} : { taskRunId: entry.taskRunId }),
    attemptNumber: entry.attemptNumber,
    timestamp: entry.timestamp.toISOString(),
    level: entry.level,
    message: entry.message,
    deleted: false,
  };
}

/** One download line: `timestamp level [taskId] message` (no brackets for a line of the execution itself). */
export function logLine(entry: StoredLogEntry): string {
  return `${entry.timestamp.toISOString()} ${entry.level} ${entry.taskId === null ? '' : `[${entry.taskId}] `}${entry.message}\n`;
}

function isTerminal(execution: StoredExecution): boolean {
  return TERMINAL_STATES.includes(execution.state);
}

const executionIdParams = { type: 'object', required: ['executionId'], properties: { executionId: { type: 'string' } } } as const;
const filterQuery = {
  type: 'object',
  properties: { minLevel: { enum: [...LOG_LEVELS] }, taskId: { type: 'string' }, taskRunId: { type: 'string' } },
} as const;

/** The follow's filters, and Sluice's `skip`: how many of the lines (in storage order) the client already holds. */
const followQuery = {
  type: 'object',
  properties: { ...filterQuery.properties, skip: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
} as const;

interface FilterQuery {
  minLevel?: LogLevel;
  taskId?: string;
  taskRunId?: string;
}

interface SearchQuery {
  namespace?: string;
  flowId?: string;
  executionId?: string;
  taskId?: string;
  minLevel?: LogLevel;
  q?: string;
  startDate?: string;
  endDate?: string;
  page: number;
  size: number;
}

const searchQuery = {
  type: 'object',
  properties: {
    namespace: { type: 'string', description: 'Exact namespace or a parent namespace (`company` matches `company.team`)' },
    flowId: { type: 'string' },
    executionId: { type: 'string' },
    taskId: { type: 'string' },
    minLevel: { enum: [...LOG_LEVELS] },
    q: { type: 'string', description: 'Text the message contains (case-insensitive)' },
    startDate: { type: 'string', description: 'ISO-8601: lines emitted at or after it' },
    endDate: { type: 'string', description: 'ISO-8601: lines emitted at or before it' },
    ...pagingQueryProperties,
    size: { ...pagingQueryProperties.size, maximum: LOG_SEARCH_PAGE_MAX },
    sort: sortProperty(LOG_SORT_FIELDS),
  },
} as const;

const deleteQuery = {
  type: 'object',
  properties: { ...filterQuery.properties, attempt: { type: 'integer', minimum: 0, maximum: INTEGER_PARAMETER_MAX } },
} as const;


function filterOf(query: FilterQuery): LogFilter {
  return {
    ...(query.minLevel === undefined ? {} : { minLevel: query.minLevel }),
    ...(query.taskId === undefined ? {} : { taskId: query.taskId }),
    ...(query.taskRunId === undefined ? {} : { taskRunId: query.taskRunId }),
  };
}

async function* downloadChunks(lines: AsyncIterable<StoredLogEntry>): AsyncGenerator<string> {
  let chunk = '';
  for await (const entry of lines) {
    chunk += logLine(entry);
    if (chunk.length >= DOWNLOAD_CHUNK) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk !== '') yield chunk;
}

export const logRoutes: FastifyPluginAsync<LogRouteOptions> = async (app, options) => {
  const { executions, logs } = options;
  const masked = options.flows ? secretInputMasker(options.flows) : undefined;
  const { follow } = createFollowHub(app, options);

  async function existing(id: string): Promise<StoredExecution> {
    const execution = await executions.get(id);
    if (!execution) throw new SluiceError('SLU_API_EXECUTION_NOT_FOUND', { id }, { id });
    return execution;
  }

  app.get(
    '/logs/search',
    {
      schema: { tags: ['logs'], summary: 'Search log lines (newest first)', description: filtersDescription('logs'), querystring: searchQuery },
      preValidation: rejectUnknownSearchParameters(searchQuery),
    },
    async (request) => {
      const query = request.query as SearchQuery;
      const startDate = parseDate('startDate', query.startDate);
      const endDate = parseDate('endDate', query.endDate);
      const { filters, sort } = parseSearchQuery(request.query as Record<string, unknown>, 'logs', LOG_SORT_FIELDS);
      const found = await searchErrors(logs.search({
        ...(query.namespace ? { namespace: query.namespace } : {}),
        ...(query.flowId ? { flowId: query.flowId } : {}),
        ...(query.executionId ? { executionId: query.executionId } : {}),
        ...(query.taskId ? { taskId: query.taskId } : {}),
        ...(query.minLevel === undefined ? {} : { minLevel: query.minLevel }),
        ...(query.q ? { q: query.q } : {}),
        ...(startDate ? { startDate } : {}),
        ...(endDate ? { endDate } : {}),
        filters,
        sort,
        page: query.page,
        size: query.size,
      }));
      return { results: found.results.map(logJson), total: found.total };
    },
  );

  app.delete(
    '/logs/:executionId',
    { schema: { tags: ['logs'], summary: "Delete an execution's log lines (all, or those of a task, task run, attempt or level)", params: executionIdParams, querystring: deleteQuery } },
    async (request) => {
      const { executionId } = request.params as { executionId: string };
      const query = request.query as FilterQuery & { attempt?: number };
      await existing(executionId);
      const deleted = await logs.deleteByExecution(executionId, { ...filterOf(query), ...(query.attempt === undefined ? {} : { attempt: query.attempt }) });
      return { deleted };
    },
  );

  app.get(
    '/logs/:executionId',
    { schema: { tags: ['logs'], summary: "An execution's log lines, oldest first", params: executionIdParams, querystring: filterQuery } },
    async (request) => {
      const { executionId } = request.params as { executionId: string };
      await existing(executionId);
      const lines: Record<string, unknown>[] = [];
      for await (const entry of logs.stream(executionId, filterOf(request.query as FilterQuery))) lines.push(logJson(entry));
      return lines;
    },
  );

  app.get(
    '/logs/:executionId/download',
    { schema: { tags: ['logs'], summary: "Download an execution's log as text", params: executionIdParams, querystring: filterQuery } },
    async (request, reply) => {
      const { executionId } = request.params as { executionId: string };
      await existing(executionId);
      const body = Readable.from(downloadChunks(logs.stream(executionId, filterOf(request.query as FilterQuery))));
      return reply
        .header('content-type', 'text/plain; charset=utf-8')
        .header('content-disposition', `attachment; filename="${executionId.replace(/[^0-9A-Za-z._-]/g, '_')}.log"`)
        .send(body);
    },
  );

  app.get(
    '/logs/:executionId/follow',
    { schema: { tags: ['logs'], summary: "Follow an execution's log (server-sent events)", params: executionIdParams, querystring: followQuery } },
    async (request, reply) => {
      const { executionId } = request.params as { executionId: string };
      await existing(executionId);
      const filter = filterOf(request.query as FilterQuery);
      let afterId: bigint | undefined;
      // Sluice's `skip=N`: the client holds the first N lines already (it read `GET /logs/{id}`): start after them.
      const { skip } = request.query as { skip?: number };
      if (skip !== undefined && skip > 0) {
        const [last] = await logs.list(executionId, { ...filter, order: 'id', limit: 1, skip: skip - 1 });
        // Fewer lines than that (some were deleted meanwhile): all are sent.
        if (last) afterId = last.id;
      }
      await follow(request, reply, async (sse) => {
        for (;;) {
          // The state first: a line stored before the execution ended is then always read below. Only the state: a
          // poll must not read 10,000 task runs to learn whether the execution ended.
          const state = await executions.stateOf(executionId);
          if (state === undefined) throw new SluiceError('SLU_API_EXECUTION_NOT_FOUND', { id: executionId }, { id: executionId });
          const page = await logs.list(executionId, { ...filter, order: 'id', limit: FOLLOW_PAGE, ...(afterId === undefined ? {} : { afterId }) });
          for (const entry of page) {
            if (!sse.open) return true;
            await sse.send('progress', logJson(entry));
            afterId = entry.id;
          }
          if (page.length === FOLLOW_PAGE) continue; // more lines already stored: no need to wait
          if (TERMINAL_STATES.includes(state)) {
            // Only log lines go out as `data`: the end is an event with no data (Kestra's own log follow never ends).
            await sse.send('end');
            return true;
          }
          return false;
        }
      });
    },
  );

  app.get(
    '/executions/:executionId/follow',
    { schema: { tags: ['executions'], summary: 'Follow an execution (server-sent events)', params: executionIdParams } },
    async (request, reply) => {
      const { executionId } = request.params as { executionId: string };
      let execution = await existing(executionId);
      let sent: string | undefined;
      await follow(request, reply, async (sse) => {
        if (sent !== undefined) execution = await existing(executionId);
        const snapshot = JSON.stringify(execution);
        const shown = masked ? await masked(execution) : execution;
        // As Kestra: the ended execution goes out once, as `end` (alone, for one that had ended before the follow).
        if (isTerminal(execution)) {
          await sse.send('end', executionJson(shown));
          return true;
        }
        if (snapshot !== sent) {
          await sse.send('progress', executionJson(shown));
          sent = snapshot;
        }
        return false;
      });
    },
  );
};

/**
 * The execution store as tasks see it (`TaskContext.executions`: `log.Fetch`, `execution.Resume`), over the
 * database and the scheduler's queue. The API serves it to remote workers on its internal routes
 * (routes/internal-executions.ts); `sluice server local` gives it to its in-process worker as it is, without HTTP.
 *
 * - `get`: the execution's id, namespace, flow and state.
 * - `logPage` / `fetchLogs`: the execution's lines at or above a level, of some tasks only if asked, by (timestamp,
 *   id), a page at a time with a keyset cursor (no OFFSET: a log of millions of lines is paged at the same cost
 *   throughout, and never held whole).
 * - `resume`: what `POST /api/v1/executions/{id}/resume` does, the `onResume` inputs stored as given (Kestra's Resume
 *   task does not check or type them), then the `restarted` event to the scheduler, as the REST route sends it.
 */
import { SluiceError } from '@sluice/core';
import type { Flow } from '@sluice/core';
import type { ExecutionRepository, LogRepository, StoredLogEntry } from '@sluice/db';
import type { ExecutionInfo, ExecutionLogLine, ExecutionLogQuery, ExecutionsAccess } from '@sluice/plugin-api';
import type { ExecutionQueue } from './execution-queue.js';
import type { FlowStore } from './flow-store.js';
import { rejectInvalidCharactersDeep } from './invalid-characters.js';
import { pausedTask, resumePlan } from './routes/executions.js';

/** A log line as the workers' contract has it (ExecutionLogLine: null fields left out), not the public API's LogEntry. */
function logLine(entry: StoredLogEntry): ExecutionLogLine {
  return {
    namespace: entry.namespace,
    flowId: entry.flowId,
    executionId: entry.executionId,
    ...(entry.taskId === null ? {} : { taskId: entry.taskId }),
    ...(entry.taskRunId === null ? {} : { taskRunId: entry.taskRunId }),
    ...(entry.attemptNumber === null ? {} : { attemptNumber: entry.attemptNumber }),
    timestamp: entry.timestamp.toISOString(),
    level: entry.level as ExecutionLogLine['level'],
    message: entry.message,
  };
}

export interface DbExecutionsAccessDeps {
  readonly executions: Pick<ExecutionRepository, 'get' | 'resume' | 'childOutputsPage'>;
  readonly logs: Pick<LogRepository, 'list'>;
  /** The flows, for the task of the paused run (a Pause ends SUCCESS; one with legacy `tasks` goes on RUNNING). */
  readonly flows: Pick<FlowStore, 'get'>;
  /** Where the resumed execution is handed back to the scheduler. */
  readonly queue: Pick<ExecutionQueue, 'executionRestarted'>;
  /** Lines per page of `fetchLogs` (1 to {@link MAX_LOG_PAGE}). Default {@link DEFAULT_LOG_PAGE}. */
  readonly pageSize?: number;
}

/** One page of an execution's log: its lines, and the cursor of the next page when there may be one. */
export interface ExecutionLogPage {
  readonly results: ExecutionLogLine[];
  readonly next?: string;
}

export interface DbExecutionsAccess extends ExecutionsAccess {
  /**
   * The lines after `after` (a cursor from the previous page; the first page without it), at most `size`.
   * @throws SluiceError SLU_API_BAD_REQUEST for a cursor that is not one.
   */
  logPage(executionId: string, query: ExecutionLogQuery, options?: { readonly after?: string; readonly size?: number }): Promise<ExecutionLogPage>;
}

export const DEFAULT_LOG_PAGE = 1000;
export const MAX_LOG_PAGE = 10_000;

/** `<epoch ms>.<id>`: where the previous page ended in the (timestamp, id) order. */
function cursorOf(line: { readonly timestamp: Date; readonly id: bigint }): string {
  return `${line.timestamp.getTime()}.${line.id}`;
}

function parseCursor(cursor: string): { timestamp: Date; id: bigint } {
  const match = /^(\d{1,15})\.(\d{1,19})$/.exec(cursor);
  if (!match) throw new SluiceError('SLU_API_BAD_REQUEST', { reason: `bad log cursor ${JSON.stringify(cursor)}: pass the "next" of the previous page` }, { in: 'query', field: 'after' });
  return { timestamp: new Date(Number(match[1])), id: BigInt(match[2]!) };
}

/** Children per page of `childOutputs` (and of its internal route). */
export const CHILD_OUTPUTS_PAGE = 500;

export function createDbExecutionsAccess(deps: DbExecutionsAccessDeps): DbExecutionsAccess {
  const pageSize = deps.pageSize ?? DEFAULT_LOG_PAGE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_LOG_PAGE) throw new RangeError(`pageSize must be an integer from 1 to ${MAX_LOG_PAGE}, got ${pageSize}`);

  const logPage: DbExecutionsAccess['logPage'] = async (executionId, query, options = {}) => {
    const size = options.size ?? pageSize;
    const rows = await deps.logs.list(executionId, {
      minLevel: query.minLevel,
      ...(query.taskIds && query.taskIds.length > 0 ? { taskIds: query.taskIds } : {}),
      ...(options.after === undefined ? {} : { after: parseCursor(options.after) }),
      limit: size,
    });
    const last = rows[rows.length - 1];
    return {
      results: rows.map(logLine),
      ...(last !== undefined && rows.length === size ? { next: cursorOf(last) } : {}),
    };
  };

  return {
    async get(executionId): Promise<ExecutionInfo | undefined> {
      const execution = await deps.executions.get(executionId);
      return execution ? { id: execution.id, namespace: execution.namespace, flowId: execution.flowId, state: execution.state } : undefined;
    },

    logPage,

    async fetchLogs(executionId, query, onPage, signal) {
      let after: string | undefined;
      do {
        if (signal?.aborted) throw signal.reason;
        const page = await logPage(executionId, query, after === undefined ? {} : { after });
        if (page.results.length > 0) await onPage(page.results);
        after = page.next;
      } while (after !== undefined);
    },

    async childOutputs(executionId, taskRunId, onPage, signal) {
      let after = 0;
      for (;;) {
        if (signal?.aborted) throw signal.reason;
        const page = await deps.executions.childOutputsPage(executionId, taskRunId, after, CHILD_OUTPUTS_PAGE);
        if (page.length > 0) await onPage(page.map(({ outputs, ...child }) => ({ ...child, ...(outputs ? { outputs } : {}) })));
        if (page.length < CHILD_OUTPUTS_PAGE) return;
        after = page[page.length - 1]!.iteration;
      }
    },

    async resume(executionId, inputs) {
      // What cannot be stored is refused before anything changes (as the REST resume refuses it).
      if (inputs !== undefined) rejectInvalidCharactersDeep(['inputs'], inputs, 'body');
      const execution = await deps.executions.get(executionId);
      if (!execution) throw new SluiceError('SLU_API_EXECUTION_NOT_FOUND', { id: executionId }, { id: executionId });
      if (execution.state !== 'PAUSED') {
        throw new SluiceError('SLU_API_EXECUTION_NOT_PAUSED', { id: executionId, state: execution.state }, { id: executionId, state: execution.state });
      }
      // The flow revision it runs (deleted revisions included), for what its paused task is.
      const flow = (await deps.flows.get(execution.namespace, execution.flowId, execution.flowRevision))?.flow as unknown as Flow | undefined;
      const result = await deps.executions.resume(executionId, (run) => ({
        state: resumePlan(pausedTask(flow, run.taskId), {}).state,
        ...(inputs === undefined ? {} : { outputs: { onResume: { ...inputs } } }),
      }));
      if (result.status === 'not-found') throw new SluiceError('SLU_API_EXECUTION_NOT_FOUND', { id: executionId }, { id: executionId });
      if (result.status === 'refused') {
        const { state } = result.execution;
        throw new SluiceError('SLU_API_EXECUTION_NOT_PAUSED', { id: executionId, state }, { id: executionId, state });
      }
      await deps.queue.executionRestarted({ executionId, namespace: execution.namespace, flowId: execution.flowId });
    },
  };
}

/**
 * `TaskContext.executions` for a runtime that runs ONE execution with no server around it (`sluice run`): it knows
 * that execution and the log lines it was given, nothing else.
 * - `fetchLogs` of the run's execution reads the lines kept with `record` (in memory: a `sluice run` log fits);
 *   of any other execution, nothing: there is no other.
 * - `get` knows the run's execution only.
 * - `resume` cannot resume anything: the run's own execution is running (not PAUSED), and there is no other.
 */
import { LOG_LEVELS, SluiceError } from '@sluice/core';
import type { ExecutionInfo, ExecutionLogLine, ExecutionsAccess } from '@sluice/plugin-api';
import type { TaskLogEntry } from './run-task.js';

export interface SingleRunExecutions extends ExecutionsAccess {
  /** Keep a log line of the run (call it from runTask's `onLog`), with the attempt it belongs to. */
  record(entry: TaskLogEntry, attempt?: number): void;
}

/** Lines handed to `onPage` at a time. */
const PAGE_SIZE = 1000;

/**
 * @param current the run's execution as it is now (its id changes when a retry goes on as a new execution: each
 *   line is kept under the id it was recorded with).
 */
export function createSingleRunExecutions(current: () => ExecutionInfo): SingleRunExecutions {
  const lines: ExecutionLogLine[] = [];
  return {
    record(entry, attempt) {
      const execution = current();
      lines.push({
        namespace: execution.namespace,
        flowId: execution.flowId,
        executionId: execution.id,
        taskId: entry.taskId,
        taskRunId: entry.taskRunId,
        ...(attempt === undefined ? {} : { attemptNumber: attempt }),
        timestamp: entry.timestamp,
        level: entry.level,
        message: entry.message,
      });
    },
    async get(executionId) {
      const execution = current();
      return execution.id === executionId ? { ...execution } : undefined;
    },
    async fetchLogs(executionId, query, onPage, signal) {
      const threshold = LOG_LEVELS.indexOf(query.minLevel);
      const tasks = query.taskIds && query.taskIds.length > 0 ? new Set(query.taskIds) : undefined;
      // A stable sort: lines with the same timestamp keep the order they were recorded in.
      const matching = lines
        .filter((line) => line.executionId === executionId && LOG_LEVELS.indexOf(line.level) >= threshold && (!tasks || (line.taskId !== undefined && tasks.has(line.taskId))))
        .sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
      for (let start = 0; start < matching.length; start += PAGE_SIZE) {
        if (signal?.aborted) throw signal.reason;
        await onPage(matching.slice(start, start + PAGE_SIZE));
      }
    },
    async resume(executionId) {
      const execution = current();
      if (execution.id === executionId) {
        throw new SluiceError('SLU_API_EXECUTION_NOT_PAUSED', { id: executionId, state: execution.state }, { id: executionId, state: execution.state });
      }
      throw new Error(
        `there is no execution ${executionId} here: "sluice run" runs one execution without a server, so it cannot resume another one; ` +
          'run the flows on a Sluice server ("sluice server local") to resume executions',
      );
    },
  };
}

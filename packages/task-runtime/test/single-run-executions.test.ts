/**
 * `createSingleRunExecutions`: the execution store of `sluice run`, which knows its one execution and the log lines
 * it recorded.
 */
import { isSluiceError } from '@sluice/core';
import type { ExecutionInfo, ExecutionLogLine } from '@sluice/plugin-api';
import { describe, expect, it } from 'vitest';
import { createSingleRunExecutions } from '@sluice/task-runtime';

describe('createSingleRunExecutions', () => {
  let current: ExecutionInfo = { id: 'run1', namespace: 'dev', flowId: 'f', state: 'RUNNING' };
  const store = createSingleRunExecutions(() => current);
  const at = (ms: number): string => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
  store.record({ taskRunId: 'tr-b', taskId: 'b', level: 'WARN', message: 'b late', timestamp: at(5) }, 2);
  store.record({ taskRunId: 'tr-a', taskId: 'a', level: 'INFO', message: 'a first', timestamp: at(1) });
  store.record({ taskRunId: 'tr-a', taskId: 'a', level: 'DEBUG', message: 'a debug', timestamp: at(2) });
  store.record({ taskRunId: 'tr-b', taskId: 'b', level: 'INFO', message: 'b same ms', timestamp: at(1) });

  const fetch = async (executionId: string, query: Parameters<typeof store.fetchLogs>[1]): Promise<ExecutionLogLine[][]> => {
    const pages: ExecutionLogLine[][] = [];
    await store.fetchLogs(executionId, query, (lines) => {
      pages.push([...lines]);
    });
    return pages;
  };

  it('fetches the run\'s own lines by time, at or above the level, of the tasks asked for', async () => {
    const [page] = await fetch('run1', { minLevel: 'INFO' });
    expect(page?.map((l) => l.message)).toEqual(['a first', 'b same ms', 'b late']);
    expect(page?.[2]).toEqual({ namespace: 'dev', flowId: 'f', executionId: 'run1', taskId: 'b', taskRunId: 'tr-b', attemptNumber: 2, timestamp: at(5), level: 'WARN', message: 'b late' });
    expect((await fetch('run1', { minLevel: 'TRACE', taskIds: ['a'] }))[0]?.map((l) => l.message)).toEqual(['a first', 'a debug']);
    expect(await fetch('run1', { minLevel: 'ERROR' })).toEqual([]);
    expect(await fetch('other', { minLevel: 'TRACE' })).toEqual([]);
  });

  it('knows its own execution only, and resumes nothing', async () => {
    expect(await store.get('run1')).toEqual(current);
    expect(await store.get('other')).toBeUndefined();
    const own = await store.resume('run1').catch((error: unknown) => error);
    expect(isSluiceError(own) && own.code).toBe('SLU_API_EXECUTION_NOT_PAUSED');
    expect(isSluiceError(own) && own.details.state).toBe('RUNNING');
    await expect(store.resume('other', { a: 1 })).rejects.toThrow(/"sluice run" runs one execution without a server/);
  });

  it('keeps each line under the execution it was recorded in (a retry as a new execution)', async () => {
    current = { ...current, id: 'run2' };
    store.record({ taskRunId: 'tr-c', taskId: 'c', level: 'ERROR', message: 'second execution', timestamp: at(9) });
    expect((await fetch('run2', { minLevel: 'TRACE' }))[0]?.map((l) => l.message)).toEqual(['second execution']);
    expect((await fetch('run1', { minLevel: 'TRACE' }))[0]).toHaveLength(4);
  });
});

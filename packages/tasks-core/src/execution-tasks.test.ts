import { readdir, readFile } from 'node:fs/promises';
import { createFlowValidator, isSluiceError, SluiceError } from '@sluice/core';
import type { LogLevel } from '@sluice/core';
import { createPluginRegistries } from '@sluice/plugin-api';
import type { ExecutionInfo, ExecutionLogLine, ExecutionLogQuery, ExecutionsAccess } from '@sluice/plugin-api';
import { createMockTaskContext } from '@sluice/plugin-api/testing';
import type { MockContextOptions, MockTaskContext } from '@sluice/plugin-api/testing';
import { describe, expect, it } from 'vitest';
import { corePlugins, executionTarget, fetchTask, resumeTask } from './index.js';

/** A mock context (execution `exec1` of `dev.flow`) with `executions` when given. */
async function context(executions?: ExecutionsAccess, options: MockContextOptions = {}): Promise<MockTaskContext> {
  const base = await createMockTaskContext({ taskId: 't', ...options });
  return executions ? { ...base, executions } : base;
}

async function failure(promise: Promise<unknown>): Promise<SluiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSluiceError(error)) throw new Error(`expected a SluiceError, got ${String(error)}`);
  return error;
}

interface FakeStore extends ExecutionsAccess {
  readonly queries: { executionId: string; query: ExecutionLogQuery }[];
  readonly resumed: { executionId: string; inputs: Readonly<Record<string, unknown>> | undefined }[];
}

/** An execution store over a few executions and their lines, paged by `pageSize`. */
function fakeStore(executions: ExecutionInfo[], lines: ExecutionLogLine[] = [], pageSize = 2): FakeStore {
  const levels: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];
  const queries: FakeStore['queries'] = [];
  const resumed: FakeStore['resumed'] = [];
  return {
    queries,
    resumed,
    get: async (id) => executions.find((e) => e.id === id),
    async fetchLogs(executionId, query, onPage) {
      queries.push({ executionId, query });
      const matching = lines.filter(
        (l) => l.executionId === executionId && levels.indexOf(l.level) >= levels.indexOf(query.minLevel) && (!query.taskIds || query.taskIds.includes(l.taskId ?? '')),
      );
      for (let i = 0; i < matching.length; i += pageSize) await onPage(matching.slice(i, i + pageSize));
    },
    async resume(executionId, inputs) {
      const execution = executions.find((e) => e.id === executionId);
      if (!execution) throw new SluiceError('SLU_API_EXECUTION_NOT_FOUND', { id: executionId }, { id: executionId });
      if (execution.state !== 'PAUSED') throw new SluiceError('SLU_API_EXECUTION_NOT_PAUSED', { id: executionId, state: execution.state }, { id: executionId, state: execution.state });
      resumed.push({ executionId, inputs });
    },
  };
}

const line = (executionId: string, n: number, taskId: string, level: LogLevel): ExecutionLogLine => ({
  namespace: 'dev',
  flowId: 'flow',
  executionId,
  taskId,
  taskRunId: `${taskId}-run`,
  attemptNumber: 1,
  timestamp: new Date(Date.UTC(2026, 0, 1) + n).toISOString(),
  level,
  message: `${taskId} ${level} ${n}`,
});

describe('the target of log.Fetch and execution.Resume', () => {
  it('is the current execution without executionId, and refuses namespace or flowId then', async () => {
    const ctx = await context();
    expect(executionTarget({}, ctx)).toEqual({ executionId: 'exec1', namespace: 'dev', flowId: 'flow', current: true, explicitFlow: false });
    expect(executionTarget({ executionId: null, namespace: undefined }, ctx).current).toBe(true);
    for (const given of [{ namespace: 'other' }, { flowId: 'other' }, { namespace: 'other', flowId: 'f' }]) {
      expect(() => executionTarget(given, ctx), JSON.stringify(given)).toThrow(/give them with `executionId`/);
    }
  });

  it('is an execution of the current flow with executionId alone, and of the flow named with namespace and flowId', async () => {
    const ctx = await context();
    expect(executionTarget({ executionId: 'e2' }, ctx)).toEqual({ executionId: 'e2', namespace: 'dev', flowId: 'flow', current: false, explicitFlow: false });
    expect(executionTarget({ executionId: 'e2', namespace: 'company', flowId: 'etl' }, ctx)).toEqual({
      executionId: 'e2',
      namespace: 'company',
      flowId: 'etl',
      current: false,
      explicitFlow: true,
    });
    // The current execution named by its id is still the current one.
    expect(executionTarget({ executionId: 'exec1' }, ctx).current).toBe(true);
  });

  it('refuses namespace without flowId and flowId without namespace', async () => {
    const ctx = await context();
    const alone = await failure(Promise.resolve().then(() => executionTarget({ executionId: 'e2', namespace: 'company' }, ctx)));
    expect(alone.code).toBe('SLU_TASK_FAILED');
    expect(alone.message).toMatch(/task t failed: `namespace` and `flowId` go together.*\(namespace is given alone\)/);
    expect(() => executionTarget({ executionId: 'e2', flowId: 'etl' }, ctx)).toThrow(/flowId is given alone/);
  });

  it('applies to the rendered properties: the tasks fail on a bad combination before reaching the store', async () => {
    const store = fakeStore([]);
    const ctx = await context(store, { variables: { inputs: { ns: 'company' } } });
    expect((await failure(fetchTask.run!({ namespace: '{{ inputs.ns }}' }, ctx))).message).toMatch(/give them with `executionId`/);
    expect((await failure(resumeTask.run!({ executionId: 'e2', namespace: '{{ inputs.ns }}' }, ctx))).message).toMatch(/go together/);
    expect(store.queries).toEqual([]);
  });
});

describe('log.Fetch', () => {
  const lines = [
    line('exec1', 1, 'hello', 'INFO'),
    line('exec1', 2, 'hello', 'DEBUG'),
    line('exec1', 3, 'error_message', 'ERROR'),
    line('exec1', 4, 'hello', 'WARN'),
    line('exec1', 5, 'other', 'INFO'),
    line('e2', 6, 'x', 'INFO'),
  ];
  const executions: ExecutionInfo[] = [
    { id: 'exec1', namespace: 'dev', flowId: 'flow', state: 'RUNNING' },
    { id: 'e2', namespace: 'dev', flowId: 'flow', state: 'SUCCESS' },
    { id: 'e3', namespace: 'company', flowId: 'etl', state: 'SUCCESS' },
  ];

  const contentOf = async (ctx: MockTaskContext, uri: unknown): Promise<ExecutionLogLine[]> => {
    const copy = ctx.stored.get(String(uri));
    expect(copy, String(uri)).toBeDefined();
    const text = await readFile(copy!, 'utf8');
    return text === '' ? [] : text.trimEnd().split('\n').map((l) => JSON.parse(l) as ExecutionLogLine);
  };

  it('writes the current execution\'s lines at INFO and above into a JSON-lines file, page after page, with their count', async () => {
    const store = fakeStore(executions, lines);
    const ctx = await context(store);
    const result = await fetchTask.run!({}, ctx);
    expect(result.outputs).toEqual({ uri: 'kestra:///dev/flow/executions/exec1/tasks/t/t-run/logs.jsonl', size: 4 });
    expect(await contentOf(ctx, result.outputs?.uri)).toEqual([lines[0], lines[2], lines[3], lines[4]]);
    expect(store.queries).toEqual([{ executionId: 'exec1', query: { minLevel: 'INFO' } }]);
  });

  it('keeps the tasks of tasksId (a list or a JSON list) at the level asked for, rendered', async () => {
    const store = fakeStore(executions, lines);
    const ctx = await context(store, { variables: { inputs: { level: 'debug', tasks: ['hello'] } } });
    const listed = await fetchTask.run!({ tasksId: ['hello', 'error_message'], level: 'ERROR' }, ctx);
    expect(listed.outputs?.size).toBe(1);
    expect(await contentOf(ctx, listed.outputs?.uri)).toEqual([lines[2]]);
    const rendered = await fetchTask.run!({ tasksId: '{{ inputs.tasks | json }}', level: '{{ inputs.level }}' }, ctx);
    expect(await contentOf(ctx, rendered.outputs?.uri)).toEqual([lines[0], lines[1], lines[3]]);
    expect(store.queries.map((q) => q.query)).toEqual([
      { minLevel: 'ERROR', taskIds: ['hello', 'error_message'] },
      { minLevel: 'DEBUG', taskIds: ['hello'] },
    ]);
  });

  it('reads another execution of the current flow by its id, or of another flow with namespace and flowId', async () => {
    const store = fakeStore(executions, lines);
    const ctx = await context(store);
    const other = await fetchTask.run!({ executionId: 'e2' }, ctx);
    expect(await contentOf(ctx, other.outputs?.uri)).toEqual([lines[5]]);
    const explicit = await fetchTask.run!({ executionId: 'e3', namespace: 'company', flowId: 'etl' }, ctx);
    expect(explicit.outputs?.size).toBe(0);
    expect(store.queries.map((q) => q.executionId)).toEqual(['e2', 'e3']);
  });

  it('fetches nothing, with a warning, from an execution of another flow than the one named, or from none', async () => {
    const store = fakeStore(executions, lines);
    const ctx = await context(store);
    const wrongFlow = await fetchTask.run!({ executionId: 'e3' }, ctx);
    expect(wrongFlow.outputs?.size).toBe(0);
    expect(await contentOf(ctx, wrongFlow.outputs?.uri)).toEqual([]);
    const missing = await fetchTask.run!({ executionId: 'nope' }, ctx);
    expect(missing.outputs?.size).toBe(0);
    expect(ctx.logs).toEqual([
      { level: 'WARN', message: 'execution e3 is of flow company.etl, not dev.flow: no log line fetched (give `namespace` and `flowId` to read an execution of another flow)' },
      { level: 'WARN', message: 'no execution nope: no log line fetched' },
    ]);
    expect(store.queries).toEqual([]);
  });

  it('fails on a level that is not one, and says where it can run without an execution store', async () => {
    const ctx = await context(fakeStore(executions, lines));
    const bad = await failure(fetchTask.run!({ level: 'LOUD' }, ctx));
    expect(bad.code).toBe('SLU_FLOW_INVALID_ENUM');
    const none = await failure(fetchTask.run!({}, await context()));
    expect(none.message).toMatch(/^task t failed: io\.kestra\.plugin\.core\.log\.Fetch needs the execution store.*"sluice server local"/);
  });

  it('leaves no file of its own in the working directory', async () => {
    const ctx = await context(fakeStore(executions, lines));
    await fetchTask.run!({}, ctx);
    expect(await readdir(ctx.workingDirectory)).toEqual([]);
  });
});

describe('execution.Resume', () => {
  const executions: ExecutionInfo[] = [
    { id: 'paused', namespace: 'company', flowId: 'approval', state: 'PAUSED' },
    { id: 'done', namespace: 'company', flowId: 'approval', state: 'SUCCESS' },
  ];

  it('fails with "The execution is not paused" without executionId: the current execution is running', async () => {
    const store = fakeStore(executions);
    const error = await failure(resumeTask.run!({}, await context(store)));
    expect(error.message).toBe('task t failed: The execution is not paused: execution exec1 is RUNNING (it is running this task)');
    expect(store.resumed).toEqual([]);
  });

  it('resumes the execution with its inputs as given, rendered but neither checked nor typed', async () => {
    const store = fakeStore(executions);
    const ctx = await context(store, { variables: { inputs: { who: 'Ada' } } });
    const result = await resumeTask.run!({ executionId: 'paused', namespace: 'company', flowId: 'approval', inputs: { approved: 'yes', by: '{{ inputs.who }}', count: 3, nested: { list: [1, '{{ inputs.who }}'] } } }, ctx);
    expect(result).toEqual({});
    expect(store.resumed).toEqual([{ executionId: 'paused', inputs: { approved: 'yes', by: 'Ada', count: 3, nested: { list: [1, 'Ada'] } } }]);
    expect(ctx.logs).toEqual([{ level: 'INFO', message: 'resumed execution paused with inputs approved, by, count, nested' }]);
  });

  it('resumes with no inputs when none (or an empty map) are given, and takes a JSON object from an expression', async () => {
    const store = fakeStore(executions);
    const ctx = await context(store, { variables: { vars: { answer: { ok: true } } } });
    await resumeTask.run!({ executionId: 'paused' }, ctx);
    await resumeTask.run!({ executionId: 'paused', inputs: {} }, ctx);
    await resumeTask.run!({ executionId: 'paused', inputs: '{{ vars.answer | json }}' }, ctx);
    expect(store.resumed).toEqual([
      { executionId: 'paused', inputs: undefined },
      { executionId: 'paused', inputs: undefined },
      { executionId: 'paused', inputs: { ok: true } },
    ]);
    expect((await failure(resumeTask.run!({ executionId: 'paused', inputs: '[1, 2]' }, ctx))).message).toMatch(/`inputs` must be a map/);
  });

  it('fails naming the state of an execution that is not PAUSED, and on an unknown one', async () => {
    const ctx = await context(fakeStore(executions));
    expect((await failure(resumeTask.run!({ executionId: 'done' }, ctx))).message).toBe('task t failed: The execution is not paused: execution done is SUCCESS');
    expect((await failure(resumeTask.run!({ executionId: 'nope' }, ctx))).message).toBe('task t failed: no execution nope to resume');
  });

  it('checks the flow named by namespace and flowId before resuming', async () => {
    const store = fakeStore(executions);
    const ctx = await context(store);
    expect((await failure(resumeTask.run!({ executionId: 'paused', namespace: 'company', flowId: 'other' }, ctx))).message).toBe(
      'task t failed: execution paused is of flow company.approval, not company.other',
    );
    expect((await failure(resumeTask.run!({ executionId: 'nope', namespace: 'company', flowId: 'approval' }, ctx))).message).toMatch(/no execution nope/);
    expect(store.resumed).toEqual([]);
  });

  it('says where it can run without an execution store', async () => {
    const error = await failure(resumeTask.run!({ executionId: 'paused' }, await context()));
    expect(error.message).toMatch(/io\.kestra\.plugin\.core\.execution\.Resume needs the execution store.*Sluice server/);
  });
});

describe('registration', () => {
  const validator = createFlowValidator(createPluginRegistries([corePlugins]), { eager: true });
  const problems = (tasks: string): string[] =>
    validator.validateSource(`id: f\nnamespace: dev\ntasks:\n${tasks}`).flatMap((r) => r.problems.map((p) => `${p.path ?? ''}: ${p.message}`));

  it('registers both as runnable in-process tasks, Fetch also under its old name', () => {
    const types = corePlugins.tasks?.map((t) => t.type) ?? [];
    expect(types).toEqual(expect.arrayContaining([fetchTask.type, resumeTask.type]));
    for (const task of [fetchTask, resumeTask]) {
      expect(task.kind).toBe('runnable');
      expect(task.run).toBeTypeOf('function');
      expect(task.usesRunner).toBeUndefined();
    }
    expect(fetchTask.aliases).toEqual(['io.kestra.core.tasks.log.Fetch']);
  });

  it("accepts Kestra's documented examples, and refuses a literal level that is not one", () => {
    expect(
      problems(
        [
          '  - id: hello',
          '    type: io.kestra.plugin.core.log.Log',
          '    message: Hello World! 🚀',
          '  - id: fetch',
          '    type: io.kestra.plugin.core.log.Fetch',
          '    executionId: "{{ execution.id }}"',
          '    level: ERROR',
          '  - id: fetch_info',
          '    type: io.kestra.core.tasks.log.Fetch',
          '    level: INFO',
          '    tasksId:',
          '      - hello',
          '  - id: resume',
          '    type: io.kestra.plugin.core.execution.Resume',
          '    executionId: "{{ trigger.executionId }}"',
          '  - id: resume_other',
          '    type: io.kestra.plugin.core.execution.Resume',
          '    executionId: "{{ inputs.id }}"',
          '    namespace: company.team',
          '    flowId: approval',
          '    inputs:',
          '      approved: true',
          '      reason: "{{ inputs.reason }}"',
          '',
        ].join('\n'),
      ),
    ).toEqual([]);
    expect(problems('  - id: fetch\n    type: io.kestra.plugin.core.log.Fetch\n    level: LOUD\n')).toEqual([
      expect.stringMatching(/level.*must be one of TRACE, DEBUG, INFO, WARN, ERROR, got LOUD/),
    ]);
    expect(problems('  - id: fetch\n    type: io.kestra.plugin.core.log.Fetch\n    level: "{{ inputs.level }}"\n')).toEqual([]);
  });
});

import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { createDb, knownFromWire, knownNew, knownToWire, migrate } from '@sluice/db';
import type { Db, ExecutionTx, SchedulerTaskRun, StoredExecution } from '@sluice/db';
import { EXECUTION_SELECT } from '../src/rows.js';
import { describeWithPostgres, MIGRATIONS_DIR } from './postgres-fixture.js';

// Text that would end a badly quoted literal, or smuggle a statement: the locked step's writes inline their values.
const HOSTILE = [
  `it's`,
  `back\\slash \\' and \\\\`,
  `'); DROP TABLE executions; --`,
  `$$ dollar $$ $tag$`,
  `line\nbreak\ttab \r`,
  `unicode ünï 🌊 \u2028`,
  `E'\\x27'`,
  `"double" {json} [1]`,
];

function taskRun(id: string, extra: Partial<SchedulerTaskRun> = {}): SchedulerTaskRun {
  return {
    id,
    taskId: 't',
    parentTaskRunId: null,
    value: null,
    iteration: null,
    engineState: null,
    state: 'CREATED',
    stateHistory: [{ state: 'CREATED', date: '2026-01-01T00:00:00.000Z' }],
    attempts: [],
    outputs: null,
    metrics: null,
    workerGroup: null,
    workerId: null,
    startDate: null,
    endDate: null,
    ...extra,
  };
}

await describeWithPostgres('SchedulerStore.withExecution', (postgres) => {
  let db: Db;
  let databaseUrl: string;
  beforeAll(async () => {
    databaseUrl = await postgres.createDatabase();
    await migrate({ databaseUrl, migrationsDir: MIGRATIONS_DIR });
    db = createDb({ databaseUrl });
  });
  afterAll(async () => {
    await db.close();
  });
  const base = { namespace: 'company.team', flowId: 'etl', flowRevision: 1 };
  const storedVersion = async (id: string): Promise<number> =>
    (await db.prisma.execution.findUniqueOrThrow({ where: { id }, select: { version: true } })).version;

  it('stores every value exactly, however it is quoted, and reads the execution back with its task runs in order', async () => {
    const execution = await db.executions.create(base);
    const started = new Date('2026-02-03T04:05:06.789Z');
    await db.scheduler.withExecution(execution.id, async (locked, tx) => {
      expect(locked).toMatchObject({ id: execution.id, state: 'CREATED', taskRuns: [] });
      await tx.setState('RUNNING', started);
      for (const [i, text] of HOSTILE.entries()) {
        await tx.saveTaskRun(
          taskRun(`run-${i}`, {
            taskId: text,
            state: 'RUNNING',
            attempts: [{ state: { current: 'RUNNING', histories: [{ state: 'RUNNING', date: started.toISOString() }] }, workerId: text }],
            outputs: { text, nested: { list: [text, 1, null, true] } },
            metrics: [{ name: text, value: 1.5 }],
            workerGroup: text,
            workerId: text,
            startDate: started,
          }),
        );
      }
    });
    const read = await db.executions.get(execution.id);
    expect(read?.state).toBe('RUNNING');
    expect(read?.stateHistory.map((h) => h.state)).toEqual(['CREATED', 'RUNNING']);
    expect(read?.stateHistory[1]?.date).toBe(started.toISOString());
    expect(read?.taskRuns.map((r) => r.id)).toEqual(HOSTILE.map((_, i) => `run-${i}`));
    for (const [i, text] of HOSTILE.entries()) {
      const run = read?.taskRuns[i];
      expect(run).toMatchObject({ taskId: text, workerGroup: text, workerId: text, outputs: { text, nested: { list: [text, 1, null, true] } } });
      expect(run?.metrics).toEqual([{ name: text, value: 1.5 }]);
      expect(run?.startDate?.toISOString()).toBe(started.toISOString());
      expect(run?.endDate).toBeNull();
    }
    expect(await db.prisma.execution.count()).toBeGreaterThan(0); // the table is still there
  });

  it('reads an execution through sluice_execution_with_runs exactly as EXECUTION_SELECT reads it', async () => {
    const execution = await db.executions.create({ ...base, labels: [{ key: 'team', value: `it's` }], inputs: { n: 1 } });
    await db.scheduler.withExecution(execution.id, async (_locked, tx) => {
      await tx.setState('RUNNING', new Date('2026-02-03T04:05:06.789Z'));
      await tx.saveTaskRun(taskRun('fn-first', { state: 'RUNNING', outputs: { a: [1, 'b'] }, startDate: new Date('2026-02-03T04:05:07.001Z') }));
      await tx.saveTaskRun(taskRun('fn-second', { iteration: 2, value: 'v', parentTaskRunId: 'fn-first', engineState: { k: 1 } }));
    });
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const selected = await client.query(`SELECT ${EXECUTION_SELECT} FROM executions e WHERE e.id = $1`, [execution.id]);
      const called = await client.query('SELECT * FROM sluice_execution_with_runs($1)', [execution.id]);
      expect(called.fields.map((f) => [f.name, f.dataTypeID])).toEqual(selected.fields.map((f) => [f.name, f.dataTypeID]));
      expect(called.rows).toEqual(selected.rows);
      expect((selected.rows[0] as { task_runs: { id: string }[] }).task_runs.map((r) => r.id)).toEqual(['fn-first', 'fn-second']);
      expect((await client.query('SELECT * FROM sluice_execution_with_runs($1)', ['nope'])).rows).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it('stores a few log lines and metrics of a step (one statement each, up to four) whole and in order, whatever their text', async () => {
    const execution = await db.executions.create(base);
    const at = new Date('2026-03-04T05:06:07.089Z');
    const few = HOSTILE.slice(0, 3);
    await db.scheduler.withExecution(execution.id, async (_locked, tx) => {
      await tx.appendLogs(few.map((message, i) => ({ taskId: 't', taskRunId: `run-${i}`, attemptNumber: i + 1, level: 'WARN', message, timestamp: at })));
      await tx.appendMetrics(few.map((name, i) => ({ taskId: 't', taskRunId: `run-${i}`, attemptNumber: 1, type: 'gauge', name, value: i + 0.25, tags: { [name]: name }, timestamp: at })));
      await tx.setState('RUNNING', at);
    });
    expect((await db.logs.list(execution.id)).map((l) => [l.message, l.taskRunId, l.attemptNumber])).toEqual(few.map((message, i) => [message, `run-${i}`, i + 1]));
    const metrics = await db.metrics.search({ executionId: execution.id, page: 1, size: 10, sort: [{ field: 'value', direction: 'asc' }] });
    expect(metrics.results.map((m) => [m.name, m.value, m.tags, m.taskRunId])).toEqual(few.map((name, i) => [name, i + 0.25, { [name]: name }, `run-${i}`]));
  });

  it('stores log lines with the step, whatever their text, and none when the step fails', async () => {
    const execution = await db.executions.create(base);
    const at = new Date('2026-03-04T05:06:07.089Z');
    await db.scheduler.withExecution(execution.id, async (_locked, tx) => {
      await tx.appendLogs(HOSTILE.map((message, i) => ({ taskId: 't', taskRunId: `run-${i}`, attemptNumber: i + 1, level: 'WARN', message, timestamp: at })));
      await tx.setState('RUNNING', at);
    });
    const stored = await db.logs.list(execution.id);
    expect(stored.map((l) => [l.message, l.taskRunId, l.attemptNumber, l.level, l.timestamp.toISOString(), l.namespace, l.flowId])).toEqual(
      HOSTILE.map((message, i) => [message, `run-${i}`, i + 1, 'WARN', at.toISOString(), base.namespace, base.flowId]),
    );

    const failing = db.scheduler.withExecution(execution.id, async (_locked, tx) => {
      await tx.appendLogs([{ level: 'INFO', message: 'rolled back', timestamp: at }]);
      await tx.setState('NO SUCH \u0000 STATE', at); // Postgres refuses the NUL byte: the whole step rolls back
    });
    await expect(failing).rejects.toThrow();
    expect(await db.logs.list(execution.id)).toHaveLength(HOSTILE.length);
    await expect(db.scheduler.withExecution(execution.id, (_locked, tx) => tx.appendLogs([{ level: 'LOUD', message: 'x', timestamp: at }]))).rejects.toThrow(
      'log level must be one of TRACE, DEBUG, INFO, WARN, ERROR, got "LOUD"',
    );
  });

  it('replaces a saved task run on the next save, and sees it in the next step', async () => {
    const execution = await db.executions.create(base);
    await db.scheduler.withExecution(execution.id, (_locked, tx) => tx.saveTaskRun(taskRun('again')));
    const ended = new Date();
    const seen = await db.scheduler.withExecution(execution.id, async (locked, tx) => {
      await tx.saveTaskRun(taskRun('again', { state: 'SUCCESS', outputs: { n: 2 }, endDate: ended }));
      await tx.setState('SUCCESS', ended);
      return locked.taskRuns.map((r) => r.state);
    });
    expect(seen).toEqual(['CREATED']);
    const read = await db.executions.get(execution.id);
    expect(read?.taskRuns).toHaveLength(1);
    expect(read?.taskRuns[0]).toMatchObject({ state: 'SUCCESS', outputs: { n: 2 } });
    expect(read?.endDate?.toISOString()).toBe(ended.toISOString());
  });

  it('writes nothing when the step throws, and the connection stays usable', async () => {
    const execution = await db.executions.create(base);
    await expect(
      db.scheduler.withExecution(execution.id, async (_locked, tx) => {
        await tx.setState('RUNNING', new Date());
        await tx.saveTaskRun(taskRun('lost'));
        throw new Error('step failed');
      }),
    ).rejects.toThrow('step failed');
    // A write Postgres refuses (a string too odd for jsonb) rolls back the writes held with it.
    await expect(
      db.scheduler.withExecution(execution.id, async (_locked, tx) => {
        await tx.setState('RUNNING', new Date());
        await tx.saveTaskRun(taskRun('refused', { outputs: { text: 'nul \u0000 byte' } }));
      }),
    ).rejects.toThrow(/unicode|\\u0000/i);
    const read = await db.executions.get(execution.id);
    expect(read).toMatchObject({ state: 'CREATED', taskRuns: [] });
    // Every pooled connection still works (none was left inside an aborted transaction).
    const counts = await Promise.all(Array.from({ length: 12 }, () => db.scheduler.withExecution(execution.id, async (locked) => locked.taskRuns.length)));
    expect(counts).toEqual(Array.from({ length: 12 }, () => 0));
  });

  it('returns undefined without calling the step for an unknown execution', async () => {
    let called = false;
    expect(
      await db.scheduler.withExecution('missing', async () => {
        called = true;
      }),
    ).toBeUndefined();
    expect(called).toBe(false);
  });

  it('serialises concurrent steps of one execution: each sees the writes of the one before', async () => {
    const execution = await db.executions.create(base);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        db.scheduler.withExecution(execution.id, async (locked, tx) => {
          await tx.saveTaskRun(taskRun(`n-${String(locked.taskRuns.length).padStart(2, '0')}-${i}`));
        }),
      ),
    );
    const read = await db.executions.get(execution.id);
    // Each step named its run after the count it saw: 0..9, each once.
    expect(read?.taskRuns.map((r) => r.id.split('-')[1]).sort()).toEqual(Array.from({ length: 10 }, (_, i) => String(i).padStart(2, '0')));
  });

  it('takes the next step from memory in one round trip, and the copy it uses is exactly what a read returns', async () => {
    const execution = await db.executions.create(base);
    const at = new Date('2026-04-05T06:07:08.090Z');
    // Keys out of jsonb's order (it sorts by length, then bytes), hostile text, undefined members, a Date.
    const outputs = { zeta: 1, a: { yy: 2, x: [3, { b: null, aa: true }] }, ünï: HOSTILE, '🌊': 'wave', gone: undefined, when: at };
    const before = { ...db.scheduler.steps };
    await db.scheduler.withExecution(execution.id, async (_locked, tx) => {
      await tx.setState('RUNNING', at);
      await tx.saveTaskRun(taskRun('first', { state: 'SUCCESS', outputs, metrics: [{ value: 2, name: 'n', tags: { z: '1', a: '2' } }], endDate: at }));
      await tx.saveTaskRun(taskRun('second', { taskId: 'u' }));
    });
    const fromMemory = await db.scheduler.withExecution(execution.id, async (locked, tx) => {
      await tx.saveTaskRun(taskRun('second', { taskId: 'u', state: 'RUNNING', startDate: at }));
      return JSON.stringify(locked);
    });
    expect(db.scheduler.steps.locked - before.locked).toBe(1);
    expect(db.scheduler.steps.fromMemory - before.fromMemory).toBe(1);
    // The same step's view, read under the lock by a store that knows nothing: equal, key order included.
    const other = createDb({ databaseUrl });
    try {
      const read = await other.scheduler.withExecution(execution.id, async (locked) => locked);
      expect(other.scheduler.steps.locked).toBe(1);
      const previous = JSON.parse(fromMemory ?? '{}') as { taskRuns: Record<string, unknown>[] };
      const first = { ...(JSON.parse(JSON.stringify(read ?? {})) as Record<string, unknown>), taskRuns: JSON.parse(JSON.stringify(read?.taskRuns.slice(0, 1) ?? [])) as Record<string, unknown>[] };
      expect(first).toEqual({ ...previous, taskRuns: previous.taskRuns.slice(0, 1) });
      // Key order inside the JSON values too: templates may print them.
      for (const field of ['stateHistory', 'attempts', 'outputs', 'metrics']) {
        expect(JSON.stringify(first.taskRuns[0]?.[field])).toBe(JSON.stringify(previous.taskRuns[0]?.[field]));
      }
      expect(read?.taskRuns[1]).toMatchObject({ id: 'second', state: 'RUNNING' });
    } finally {
      await other.close();
    }
  });

  it('knows the version each step leaves, whatever the step wrote, so the next one is taken from memory again', async () => {
    const execution = await db.executions.create(base);
    const stored = (): Promise<number> => storedVersion(execution.id);
    const at = new Date();
    const steps: ((tx: ExecutionTx) => Promise<unknown>)[] = [
      (tx) => tx.saveTaskRun(taskRun('v')), // locked: nothing known yet
      (tx) => tx.setState('RUNNING', at),
      async (tx) => {
        await tx.setOutputs({ a: 1 });
        await tx.setOutputs({ a: 2 });
        await tx.saveTaskRun(taskRun('v', { state: 'RUNNING' }));
      },
      (tx) => tx.saveTaskRun(taskRun('w')),
      async () => undefined,
      async (tx) => {
        await tx.setState('RUNNING', at);
        // Keys in an order jsonb does not keep: the read-back must hold them as a read returns them.
        await tx.saveTaskRun(taskRun('x', { state: 'SUCCESS', outputs: { zeta: 1, a: { yy: [2, { d: 1, c: 0 }], b: null } }, metrics: [{ name: 'n', value: 1 }] }));
        // Resolves after the commit: a step keeps it for later (awaiting it inside the step would wait forever).
        return { read: tx.readBack() };
      },
    ];
    const before = { ...db.scheduler.steps };
    let last: unknown;
    for (const step of steps) {
      last = await db.scheduler.withExecution(execution.id, (_locked, tx) => step(tx));
      expect(db.scheduler.knownVersion(execution.id)).toBe(await stored());
    }
    const back = await (last as { read: Promise<StoredExecution | undefined> }).read;
    const got = await db.executions.get(execution.id);
    expect(back).toEqual(got);
    expect(back?.taskRuns.map((run) => run.id)).toEqual(['v', 'w', 'x']);
    // Field by field, as JSON: the same values with their keys in the same order.
    for (const [i, run] of (got?.taskRuns ?? []).entries()) {
      for (const field of Object.keys(run) as (keyof typeof run)[]) expect(JSON.stringify(back?.taskRuns[i]?.[field])).toBe(JSON.stringify(run[field]));
    }
    expect(db.scheduler.steps.locked - before.locked).toBe(1);
    expect(db.scheduler.steps.fromMemory - before.fromMemory).toBe(steps.length - 1);
    expect(db.scheduler.steps.stale - before.stale).toBe(0);
  });

  it('sees what another writer changed since its last step: the copy in memory is stale, the step runs locked', async () => {
    const execution = await db.executions.create(base);
    await db.scheduler.withExecution(execution.id, (_locked, tx) => tx.setState('RUNNING', new Date()));
    // The API moves it on (a kill), and another scheduler replica adds a task run without touching the state.
    expect((await db.executions.transition(execution.id, ['RUNNING'], 'KILLING')).status).toBe('changed');
    const other = createDb({ databaseUrl });
    try {
      await other.scheduler.withExecution(execution.id, (_locked, tx) => tx.saveTaskRun(taskRun('by-other')));
    } finally {
      await other.close();
    }
    const before = { ...db.scheduler.steps };
    const seen = await db.scheduler.withExecution(execution.id, async (locked, tx) => {
      await tx.saveTaskRun(taskRun('mine'));
      return { state: locked.state, runs: locked.taskRuns.map((r) => r.id) };
    });
    expect(seen).toEqual({ state: 'KILLING', runs: ['by-other'] });
    expect(db.scheduler.steps.stale - before.stale).toBe(1);
    expect(db.scheduler.steps.locked - before.locked).toBe(1);
    // A step that writes nothing checks the version too.
    await db.executions.transition(execution.id, ['KILLING'], 'KILLED');
    expect(await db.scheduler.withExecution(execution.id, async (locked) => locked.state)).toBe('KILLED');
    expect((await db.executions.get(execution.id))?.taskRuns.map((r) => r.id)).toEqual(['by-other', 'mine']);
  });

  it('claims with the step\'s own change to the row; a stale one writes nothing, and its locked retry writes once', async () => {
    const execution = await db.executions.create(base);
    await db.scheduler.withExecution(execution.id, (_locked, tx) => tx.setState('RUNNING', new Date()));
    // Fresh: the state change is the claim, one UPDATE, and the version known is the stored one.
    await db.scheduler.withExecution(execution.id, (_locked, tx) => tx.setLabels([{ key: 'by', value: 'scheduler' }]));
    expect(db.scheduler.knownVersion(execution.id)).toBe(await storedVersion(execution.id));
    // Stale: the API changed the row since.
    await db.prisma.execution.update({ where: { id: execution.id }, data: { labels: [{ key: 'by', value: 'api' }] } });
    const before = { ...db.scheduler.steps };
    const attempts: string[] = [];
    await db.scheduler.withExecution(execution.id, async (locked, tx) => {
      attempts.push(locked.labels.map((label) => label.value).join());
      await tx.setState('SUCCESS', new Date());
      await tx.saveTaskRun(taskRun('t'));
    });
    // The attempt from memory saw the scheduler's labels; the claim failed, so the locked retry saw the API's.
    expect(attempts).toEqual(['scheduler', 'api']);
    expect(db.scheduler.steps.stale - before.stale).toBe(1);
    const stored = await db.executions.get(execution.id);
    expect(stored?.state).toBe('SUCCESS');
    expect(stored?.stateHistory.map((entry) => entry.state)).toEqual(['CREATED', 'RUNNING', 'SUCCESS']);
    expect(stored?.taskRuns.map((run) => run.id)).toEqual(['t']);
  });

  it('starts from the snapshot it is given while it is current, and ignores it once the execution changed', async () => {
    const execution = await db.executions.create({ ...base, inputs: { b: 1, a: 'x' }, labels: [{ key: 'k', value: 'v' }] });
    const snapshot = {
      version: 0,
      execution: { id: execution.id, ...base, state: 'CREATED', inputs: execution.inputs, labels: execution.labels, trigger: null, scheduleDate: null, restartedFrom: null, attemptNumber: 1, originalCreatedDate: null, startDate: execution.startDate, taskRuns: [] },
    };
    const before = { ...db.scheduler.steps };
    const seen = await db.scheduler.withExecution(execution.id, async (locked, tx) => {
      await tx.setState('RUNNING', new Date());
      return Object.keys(locked.inputs);
    }, snapshot);
    expect(seen).toEqual(['a', 'b']); // in jsonb's order, as a read gives them
    expect(db.scheduler.steps.fromMemory - before.fromMemory).toBe(1);
    // The same snapshot again: the execution moved on, so it is not trusted.
    db.scheduler.forget();
    const state = await db.scheduler.withExecution(execution.id, async (locked) => locked.state, snapshot);
    expect(state).toBe('RUNNING');
    expect(db.scheduler.steps.stale - before.stale).toBe(1);
  });

  it('stores a new execution with its first step in one transaction, from memory, or with the lock when the step needs it', async () => {
    const before = { ...db.scheduler.steps };
    // From memory: the INSERT, the claim and the writes go together, and the copy is kept for the next step.
    const first = db.executions.prepare({ ...base, inputs: { b: 1, a: HOSTILE[2] } });
    const seen = await db.scheduler.withExecution(first.id, async (locked, tx) => {
      await tx.setState('RUNNING', new Date('2026-05-06T07:08:09.000Z'));
      await tx.saveTaskRun(taskRun('a-run'));
      return Object.keys(locked.inputs);
    }, knownNew(first), first);
    expect(seen).toEqual(['a', 'b']);
    expect(db.scheduler.steps.fromMemory - before.fromMemory).toBe(1);
    expect(db.scheduler.steps.locked - before.locked).toBe(0);
    const stored = await db.executions.get(first.id);
    expect(stored).toMatchObject({ state: 'RUNNING', inputs: { a: HOSTILE[2], b: 1 }, labels: first.labels });
    expect(stored?.stateHistory.map((h) => h.state)).toEqual(['CREATED', 'RUNNING']);
    expect(stored?.taskRuns.map((r) => r.id)).toEqual(['a-run']);
    // The INSERT carried the state change: the row was never updated (every UPDATE moves the version on).
    expect(await storedVersion(first.id)).toBe(0);
    expect(db.scheduler.knownVersion(first.id)).toBe(0);
    // A later change of the row in the same step is an UPDATE after the INSERT, and the version counts it.
    const labelled = db.executions.prepare(base);
    await db.scheduler.withExecution(labelled.id, async (_locked, tx) => {
      await tx.setState('RUNNING', new Date());
      await tx.setLabels([{ key: 'team', value: 'data' }]);
    }, knownNew(labelled), labelled);
    expect(await db.executions.get(labelled.id)).toMatchObject({ state: 'RUNNING', labels: [{ key: 'team', value: 'data' }] });
    expect(db.scheduler.knownVersion(labelled.id)).toBe(await storedVersion(labelled.id));
    expect(await storedVersion(labelled.id)).toBe(1);
    // A step from that copy holds (its version is right).
    const steps = { ...db.scheduler.steps };
    await db.scheduler.withExecution(labelled.id, async (_locked, tx) => tx.setState('SUCCESS', new Date()));
    expect(db.scheduler.steps.fromMemory - steps.fromMemory).toBe(1);
    expect(db.scheduler.steps.stale - steps.stale).toBe(0);
    expect((await db.executions.get(labelled.id))?.stateHistory.map((h) => h.state)).toEqual(['CREATED', 'RUNNING', 'SUCCESS']);
    // A step that needs the lock (a flow's admission lock): the INSERT opens the locked transaction.
    const second = db.executions.prepare(base);
    await db.scheduler.withExecution(second.id, async (_locked, tx) => {
      await tx.lockFlow();
      await tx.setState('QUEUED', new Date());
    }, knownNew(second), second);
    expect(db.scheduler.steps.locked - before.locked).toBe(1);
    expect((await db.executions.get(second.id))?.state).toBe('QUEUED');
    // A step that writes nothing still stores the execution, as it was prepared.
    const third = db.executions.prepare(base);
    await db.scheduler.withExecution(third.id, async () => undefined, knownNew(third), third);
    expect(await db.executions.get(third.id)).toMatchObject({ state: 'CREATED', taskRuns: [] });
    // A step that throws stores nothing.
    const fourth = db.executions.prepare(base);
    await expect(
      db.scheduler.withExecution(fourth.id, async (_locked, tx) => {
        await tx.setState('RUNNING', new Date());
        throw new Error('the step failed');
      }, knownNew(fourth), fourth),
    ).rejects.toThrow('the step failed');
    expect(await db.executions.get(fourth.id)).toBeUndefined();
    // An insert needs the new execution as its hint.
    const fifth = db.executions.prepare(base);
    await expect(db.scheduler.withExecution(fifth.id, async () => undefined, undefined, fifth)).rejects.toThrow(/needs the new execution/);
  });

  it('hands its copy of an execution to another store through JSON, which steps from it while it is current', async () => {
    const prepared = db.executions.prepare({ ...base, inputs: { when: '2026-01-01', n: 2 } });
    const at = new Date('2026-07-08T09:10:11.120Z');
    await db.scheduler.withExecution(prepared.id, async (_locked, tx) => {
      await tx.setState('RUNNING', at);
      await tx.saveTaskRun(taskRun('handed', { state: 'RUNNING', startDate: at, outputs: { z: 1, a: [HOSTILE[0]] } }));
    }, knownNew(prepared), prepared);
    const known = db.scheduler.known(prepared.id);
    expect(known).toBeDefined();
    const wire = JSON.parse(JSON.stringify(knownToWire(known!))) as unknown;
    const other = createDb({ databaseUrl });
    try {
      const hint = knownFromWire(wire);
      expect(hint?.version).toBe(known?.version);
      expect(hint?.execution.taskRuns[0]?.startDate).toEqual(at);
      const runs = await other.scheduler.withExecution(prepared.id, async (locked, tx) => {
        await tx.saveTaskRun({ ...locked.taskRuns[0]!, state: 'SUCCESS', endDate: new Date(at.getTime() + 5) });
        return locked.taskRuns.map((run) => run.state);
      }, hint);
      expect(runs).toEqual(['RUNNING']);
      expect(other.scheduler.steps).toMatchObject({ fromMemory: 1, locked: 0 });
      // The same copy again is stale now: the step reads instead.
      other.scheduler.forget();
      const again = await other.scheduler.withExecution(prepared.id, async (locked) => locked.taskRuns.map((run) => run.state), knownFromWire(wire));
      expect(again).toEqual(['SUCCESS']);
      expect(other.scheduler.steps).toMatchObject({ fromMemory: 1, stale: 1, locked: 1 });
    } finally {
      await other.close();
    }
    // Anything else is no copy at all.
    for (const bad of [null, 'x', { version: 1 }, { version: 1.5, execution: {} }, { version: 1, execution: { ...(wire as { execution: object }).execution, startDate: 'not a date' } }, { version: 1, execution: { ...(wire as { execution: object }).execution, taskRuns: [{ id: 1 }] } }]) {
      expect(knownFromWire(bad)).toBeUndefined();
    }
  });

  it('moves the version on with every change: a step, a transition, a restart', async () => {
    const execution = await db.executions.create(base);
    const version = (): Promise<number> => storedVersion(execution.id);
    expect(await version()).toBe(0);
    const seen = [await version()];
    await db.scheduler.withExecution(execution.id, (_locked, tx) => tx.saveTaskRun(taskRun('r', { state: 'FAILED' })));
    seen.push(await version());
    await db.scheduler.withExecution(execution.id, (_locked, tx) => tx.setState('FAILED', new Date()));
    seen.push(await version());
    await db.executions.restart(execution.id);
    seen.push(await version());
    await db.prisma.execution.update({ where: { id: execution.id }, data: { labels: [] } });
    seen.push(await version());
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });

  it('sends its statements as EXECUTEs prepared once per connection; a session found without them makes it write inline', async () => {
    // One connection, so that the session the steps use is the one looked at.
    const url = await postgres.createDatabase();
    await migrate({ databaseUrl: url, migrationsDir: MIGRATIONS_DIR });
    const one = createDb({ databaseUrl: url, maxConnections: 1 });
    const held = async (): Promise<string[]> =>
      (await one.prisma.$queryRawUnsafe<{ name: string }[]>("SELECT name FROM pg_prepared_statements WHERE name LIKE 'sluice\\_step\\_%' ORDER BY name")).map((r) => r.name);
    const at = new Date('2026-04-05T06:07:08.009Z');
    const text = HOSTILE.join(' | ');
    const step = (id: string, state: string, run: string) =>
      one.scheduler.withExecution(id, async (_locked, tx) => {
        await tx.setState(state, at);
        await tx.saveTaskRun(taskRun(run, { state, taskId: text, outputs: { text } }));
        // One line and one metric: each an EXECUTE of its own.
        await tx.appendLogs([{ taskId: text, taskRunId: run, attemptNumber: 1, level: 'INFO', message: `${state} ${text}`, timestamp: at }]);
        await tx.appendMetrics([{ taskId: text, taskRunId: run, attemptNumber: 1, type: 'gauge', name: text, value: 0.25, tags: { [text]: text }, timestamp: at }]);
        // Wrapped: the step awaiting its own read-back would wait for its own commit.
        return { back: tx.readBack() };
      });
    try {
      expect(await held()).toEqual([]);
      const execution = await one.executions.create(base);
      const first = await step(execution.id, 'RUNNING', 'run-1');
      expect(await held()).toEqual(
        [
          'sluice_step_bump', 'sluice_step_claim', 'sluice_step_insert_execution', 'sluice_step_lock', 'sluice_step_log', 'sluice_step_metric',
          'sluice_step_note_end', 'sluice_step_read', 'sluice_step_read_row', 'sluice_step_save_task_run', 'sluice_step_set_state',
        ],
      );
      expect(one.scheduler.prepared).toBe(true);
      expect(await first?.back).toMatchObject({ state: 'RUNNING', taskRuns: [{ id: 'run-1', taskId: text, outputs: { text } }] });
      // The next step is from memory: its claim is the prepared state change.
      expect(one.scheduler.steps).toEqual({ fromMemory: 0, locked: 1, stale: 0 });
      await step(execution.id, 'RUNNING', 'run-2');
      expect(one.scheduler.steps).toEqual({ fromMemory: 1, locked: 1, stale: 0 });

      // As a pooler in transaction mode would: the session no longer holds them. The step from memory fails on its
      // first EXECUTE, rolls back, and is taken again locked and inline, with nothing written twice.
      await one.prisma.$executeRawUnsafe('DEALLOCATE ALL');
      const third = await step(execution.id, 'SUCCESS', 'run-3');
      expect(one.scheduler.prepared).toBe(false);
      expect(await held()).toEqual([]);
      expect(one.scheduler.steps).toEqual({ fromMemory: 1, locked: 2, stale: 0 });
      expect(await third?.back).toMatchObject({ state: 'SUCCESS', taskRuns: [{ id: 'run-1' }, { id: 'run-2' }, { id: 'run-3', state: 'SUCCESS' }] });
      const logs = await one.logs.list(execution.id);
      expect(logs.map((l) => [l.message, l.taskId, l.taskRunId])).toEqual([
        [`RUNNING ${text}`, text, 'run-1'],
        [`RUNNING ${text}`, text, 'run-2'],
        [`SUCCESS ${text}`, text, 'run-3'],
      ]);
      const metrics = await one.metrics.search({ executionId: execution.id, page: 1, size: 10 });
      expect(metrics.results.map((m) => [m.name, m.value, m.tags, m.taskRunId]).sort((a, b) => String(a[3]).localeCompare(String(b[3])))).toEqual(
        ['run-1', 'run-2', 'run-3'].map((run) => [text, 0.25, { [text]: text }, run]),
      );
      // Inline from then on, also for a new execution's first step, which the API takes.
      const prepared = one.executions.prepare(base);
      await one.scheduler.withExecution(prepared.id, async (_locked, tx) => tx.setState('RUNNING', at), knownNew(prepared), prepared);
      expect(await held()).toEqual([]);
      expect((await one.executions.get(prepared.id))?.state).toBe('RUNNING');
    } finally {
      await one.close();
    }
  });

  it('takes a step again inline when the schema changed under its prepared statements (a newer version migrated)', async () => {
    const url = await postgres.createDatabase();
    await migrate({ databaseUrl: url, migrationsDir: MIGRATIONS_DIR });
    const one = createDb({ databaseUrl: url, maxConnections: 1 });
    try {
      const execution = await one.executions.create(base);
      const at = new Date('2026-04-05T06:07:08.009Z');
      await one.scheduler.withExecution(execution.id, (_locked, tx) => tx.setState('RUNNING', at));
      expect(one.scheduler.prepared).toBe(true);
      // The claim was prepared returning an integer; its function now returns a bigint, so Postgres refuses the
      // EXECUTE ("cached plan must not change result type"). The next step, from memory, claims without a row change.
      await one.prisma.$executeRawUnsafe(`DROP FUNCTION sluice_claim_execution(text, integer)`);
      await one.prisma.$executeRawUnsafe(`CREATE FUNCTION sluice_claim_execution(execution_id TEXT, expected INTEGER) RETURNS BIGINT LANGUAGE plpgsql AS $$
        DECLARE claimed BIGINT;
        BEGIN
          UPDATE executions SET version = version + 1 WHERE id = execution_id AND version = expected RETURNING version INTO claimed;
          IF claimed IS NULL THEN RAISE EXCEPTION 'execution % is no longer at version %', execution_id, expected USING ERRCODE = 'SL409'; END IF;
          RETURN claimed;
        END $$`);
      await one.scheduler.withExecution(execution.id, (_locked, tx) => tx.saveTaskRun(taskRun('run-1', { state: 'RUNNING' })));
      expect(one.scheduler.prepared).toBe(false);
      // The first step locked (the store did not know the execution); the second failed from memory, rolled back and
      // was taken again locked.
      expect(one.scheduler.steps).toEqual({ fromMemory: 0, locked: 2, stale: 0 });
      const stored = await one.executions.get(execution.id);
      expect(stored?.state).toBe('RUNNING');
      expect(stored?.taskRuns.map((r) => [r.id, r.state])).toEqual([['run-1', 'RUNNING']]);
    } finally {
      await one.close();
    }
  });

  it('goes on after Postgres closed its idle pooled connections, before Prisma ever connected', async () => {
    // A database of its own, used only through the plain-pg hot path: Prisma never connects, so only createDb's own
    // listener stands between a closed idle connection and an 'error' event that would end the process.
    const url = await postgres.createDatabase();
    await migrate({ databaseUrl: url, migrationsDir: MIGRATIONS_DIR });
    const fresh = createDb({ databaseUrl: url });
    try {
      const execution = await fresh.executions.create(base);
      await Promise.all(Array.from({ length: 4 }, () => fresh.scheduler.withExecution(execution.id, async (locked) => locked.id)));
      const name = new URL(url).pathname.slice(1);
      const terminated = await db.prisma.$queryRaw<{ n: number }[]>`
        SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = ${name}`;
      expect(terminated[0]?.n).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await fresh.executions.get(execution.id))?.id).toBe(execution.id);
      expect(await fresh.scheduler.withExecution(execution.id, async (locked) => locked.state)).toBe('CREATED');
    } finally {
      await fresh.close();
    }
  });
});

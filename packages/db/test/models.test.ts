// Every model round-trips through the generated client on a freshly migrated database, every field set: a column the
// schema has and the migration lacks (or the reverse, or a different type) fails here.
import { beforeAll, expect, it } from 'vitest';
import type { Db } from '@sluice/db';
import { describeWithPostgres } from './postgres-fixture.js';

await describeWithPostgres('models', (postgres) => {
  let db: Db;
  beforeAll(async () => {
    db = await postgres.migratedDb();
  });

  const t = (iso: string): Date => new Date(iso);
  const history = [
    { state: 'CREATED', date: '2026-01-02T03:04:05.006Z' },
    { state: 'RUNNING', date: '2026-01-02T03:04:06.000Z' },
  ];

  it('Flow', async () => {
    const data = {
      namespace: 'company.team',
      flowId: 'hello',
      revision: 1,
      source: 'id: hello # kept verbatim\nnamespace: company.team\n',
      parsed: { id: 'hello', namespace: 'company.team', tasks: [{ id: 't', type: 'x', n: 1.5, ok: true, none: null }] },
      deleted: true,
      latest: false,
      createdAt: t('2026-01-02T03:04:05.006Z'),
    };
    await db.prisma.flow.create({ data });
    const key = { namespace: data.namespace, flowId: data.flowId, revision: 1 };
    expect(await db.prisma.flow.findUniqueOrThrow({ where: { namespace_flowId_revision: key } })).toEqual(data);
  });

  it('Execution and TaskRun', async () => {
    const execution = {
      id: '5Rv1ExecId',
      namespace: 'company.team',
      flowId: 'hello',
      flowRevision: 3,
      state: 'RUNNING',
      stateHistory: history,
      inputs: { name: 'world', file: 'kestra:///company/team/hello/executions/5Rv1ExecId/inputs/file/a.txt' },
      outputs: { result: [1, 2] },
      labels: [{ key: 'team', value: 'data' }],
      parentId: 'parentExec',
      parentTaskRunId: 'parentRun1',
      restartedFrom: 'olderExec',
      trigger: { id: 'nightly', type: 'io.kestra.plugin.core.trigger.Schedule', variables: { date: '2026-01-02T03:04:00.000Z' } },
      scheduleDate: t('2026-01-02T03:04:00.000Z'),
      attemptNumber: 2,
      originalCreatedDate: t('2026-01-01T03:04:05.006Z'),
      createdAt: t('2026-01-02T03:04:05.006Z'),
      startDate: t('2026-01-02T03:04:05.006Z'),
      endDate: t('2026-01-02T03:05:00.000Z'),
      updatedAt: t('2026-01-02T03:05:00.000Z'),
    };
    const created = await db.prisma.execution.create({ data: execution });
    expect(created.updatedAt).toBeInstanceOf(Date); // @updatedAt: the client sets it
    const taskRun = {
      id: 'taskRun1',
      executionId: execution.id,
      taskId: 'hello_task',
      parentTaskRunId: 'parentRun',
      value: 'item-1',
      attempts: [{ state: { current: 'SUCCESS', histories: history }, workerId: 'worker-1' }],
      state: 'SUCCESS',
      stateHistory: history,
      workerGroup: 'gpu',
      workerId: 'worker-1',
      outputs: { exitCode: 0, vars: { a: 'b' } },
      metrics: [{ name: 'rows', type: 'counter', value: 3, tags: {} }],
      createdAt: t('2026-01-02T03:04:06.000Z'),
      startDate: t('2026-01-02T03:04:06.000Z'),
      endDate: t('2026-01-02T03:04:07.000Z'),
      updatedAt: t('2026-01-02T03:04:07.000Z'),
    };
    await db.prisma.taskRun.create({ data: taskRun });
    const read = await db.prisma.execution.findUniqueOrThrow({ where: { id: execution.id }, include: { taskRuns: true } });
    const { taskRuns, ...rest } = read;
    expect(rest).toEqual({ ...execution, updatedAt: created.updatedAt, version: 0 });
    expect(taskRuns).toHaveLength(1);
    // iteration and engineState default to null; seq numbers the runs in insertion order.
    expect(taskRuns[0]).toEqual({ ...taskRun, iteration: null, engineState: null, seq: taskRuns[0]!.seq, updatedAt: taskRuns[0]!.updatedAt });
    expect(typeof taskRuns[0]!.seq).toBe('bigint');

    // Defaults, nullable columns, the label index's operator, and the cascade.
    const bare = await db.prisma.execution.create({
      data: { id: 'bare', namespace: 'n', flowId: 'f', flowRevision: 1, state: 'CREATED', stateHistory: [], startDate: new Date() },
    });
    expect(bare).toMatchObject({ inputs: {}, labels: [], outputs: null, parentId: null, restartedFrom: null, trigger: null, scheduleDate: null, attemptNumber: 1, originalCreatedDate: null, endDate: null });
    const byLabel = await db.prisma.$queryRaw<{ id: string }[]>`
      SELECT id FROM executions WHERE labels @> ${JSON.stringify([{ key: 'team', value: 'data' }])}::jsonb`;
    expect(byLabel.map((r) => r.id)).toEqual([execution.id]);
    await db.prisma.execution.delete({ where: { id: execution.id } });
    expect(await db.prisma.taskRun.count()).toBe(0);
  });

  it('LogEntry', async () => {
    const line = {
      executionId: 'exec',
      namespace: 'company.team',
      flowId: 'hello',
      taskId: 'hello_task',
      taskRunId: 'taskRun1',
      attemptNumber: 0,
      level: 'INFO',
      message: 'hello, world\nsecond line ✓',
      timestamp: t('2026-01-02T03:04:05.006Z'),
    };
    const { count } = await db.prisma.logEntry.createMany({ data: [line, { ...line, message: 'again' }] });
    expect(count).toBe(2);
    const rows = await db.prisma.logEntry.findMany({ where: { executionId: 'exec' }, orderBy: { id: 'asc' } });
    expect(rows[0]).toEqual({ ...line, id: rows[0]!.id });
    expect(typeof rows[0]!.id).toBe('bigint');
    expect(rows[1]!.id).toBeGreaterThan(rows[0]!.id);
  });

  it('Metric', async () => {
    const metric = {
      executionId: 'exec',
      namespace: 'company.team',
      flowId: 'hello',
      taskId: 'hello_task',
      taskRunId: 'taskRun1',
      attemptNumber: 1,
      type: 'timer',
      name: 'load.duration',
      value: 1250.5,
      tags: { table: 'orders' },
      timestamp: t('2026-01-02T03:04:05.006Z'),
    };
    await db.prisma.metric.create({ data: metric });
    const bare = await db.prisma.metric.create({
      data: { executionId: 'exec', namespace: 'n', flowId: 'f', type: 'gauge', name: 'g', value: -0.5, timestamp: t('2026-01-02T03:04:06.000Z') },
    });
    const rows = await db.prisma.metric.findMany({ where: { executionId: 'exec' }, orderBy: { id: 'asc' } });
    expect(rows[0]).toEqual({ ...metric, id: rows[0]!.id });
    expect(typeof rows[0]!.id).toBe('bigint');
    expect(bare).toMatchObject({ taskId: null, taskRunId: null, attemptNumber: null, tags: {} });
  });

  it('KvEntry', async () => {
    const entry = {
      namespace: 'company.team',
      key: 'Config.v1',
      type: 'JSON',
      value: { a: [1, 'x'], b: null },
      createdAt: t('2026-01-02T03:04:05.006Z'),
      updatedAt: t('2026-01-02T03:04:06.007Z'),
      expirationDate: t('2026-01-03T03:04:05.006Z'),
    };
    await db.prisma.kvEntry.create({ data: entry });
    const bare = await db.prisma.kvEntry.create({ data: { namespace: 'company.team', key: 'n', type: 'NUMBER', value: 1 } });
    expect(await db.prisma.kvEntry.findUnique({ where: { namespace_key: { namespace: 'company.team', key: 'Config.v1' } } })).toEqual(entry);
    expect(bare).toMatchObject({ expirationDate: null, value: 1 });
    await expect(db.prisma.kvEntry.create({ data: { namespace: 'company.team', key: 'bad', type: 'TEXT', value: 'x' } })).rejects.toThrow();
  });

  it('Trigger', async () => {
    const trigger = {
      namespace: 'company.team',
      flowId: 'hello',
      triggerId: 'every_minute',
      nextFireDate: t('2026-01-02T03:05:00.000Z'),
      lastFireDate: t('2026-01-02T03:04:00.000Z'),
      lockOwner: 'scheduler-1',
      lockedUntil: t('2026-01-02T03:04:30.000Z'),
      createdAt: t('2026-01-02T03:00:00.000Z'),
      updatedAt: t('2026-01-02T03:04:00.000Z'),
    };
    const created = await db.prisma.trigger.create({ data: trigger });
    const key = { namespace: trigger.namespace, flowId: trigger.flowId, triggerId: trigger.triggerId };
    expect(await db.prisma.trigger.findUniqueOrThrow({ where: { namespace_flowId_triggerId: key } })).toEqual({
      ...trigger,
      updatedAt: created.updatedAt,
      disabled: false,
    });
  });

  it('Worker', async () => {
    const worker = {
      id: 'worker-1',
      group: 'gpu',
      lastHeartbeat: t('2026-01-02T03:04:05.006Z'),
      startedAt: t('2026-01-02T03:00:00.000Z'),
    };
    await db.prisma.worker.create({ data: worker });
    expect(await db.prisma.worker.findUniqueOrThrow({ where: { id: worker.id } })).toEqual(worker);
    const defaults = await db.prisma.worker.create({ data: { id: 'worker-2', lastHeartbeat: new Date() } });
    expect(defaults.group).toBeNull();
    expect(defaults.startedAt).toBeInstanceOf(Date);
  });
});

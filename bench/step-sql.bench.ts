/**
 * The SQL of a scheduler step, as it was (every statement inline, parsed and planned at each step) against the same
 * step through the PL/pgSQL functions of migration 20261206100000_step_functions (`sluice_set_execution_state`,
 * `sluice_save_task_run`, `sluice_execution_with_runs`), whose plans a session keeps (issue #20).
 *
 * One step here is what ends a one-task execution from memory: one multi-statement simple query (BEGIN, the claim that
 * changes the execution's state, the task run saved, the read-back, COMMIT), the way packages/db/src/scheduler-store.ts
 * sends it. Both kinds
 * run on one connection, in alternating rounds, against a migrated database of their own with `--executions` rows
 * (default 20,000). Printed side by side: the round trip's latency, and the CPU time the Postgres backend used
 * (/proc/<pid>/stat of `pg_backend_pid()`, so Postgres must run on this machine).
 *
 *   npm run bench:step-sql -- [--steps=N] [--rounds=N] [--executions=N] [--first | --prepared | --few-rows]
 *
 * `--first` compares instead the first step of a new execution, as the API sends it (issue #20's fourth pass): the
 * INSERT of the execution, its state change to RUNNING and its first task run saved, in one transaction. Baseline:
 * the row inserted CREATED, then updated to RUNNING by `sluice_set_execution_state` (a second version of the row,
 * with an entry in each of its indexes); against the INSERT carrying the state change (one version).
 *
 * `--prepared` compares instead the two steps of a one-`Log`-task execution as the store sends them (issue #20's fifth
 * pass), in one query: the first (the INSERT carrying RUNNING, the task run saved) and the last (the state change to
 * SUCCESS, the task run saved, one log line, one metric, the end noted, the read-back), each in its transaction.
 * Baseline: every statement inline (step-statements.ts `inlineSql`); against the EXECUTEs of the statements prepared
 * once on the connection (`preparedSql`), as SchedulerStore sends them now.
 *
 * `--few-rows` compares, in the same two steps (every statement prepared), the last one with a script task's rows:
 * two log lines and its two metrics (`duration`, `exitCode`). Baseline: each pair as one multi-row INSERT, parsed and
 * planned at each step (as SchedulerStore sent them before issue #20's eighth pass); against one EXECUTE of the
 * prepared one-row statement per row.
 *
 * Needs the test Postgres (`bash scripts/services.sh`, or SLUICE_TEST_DATABASE_URL).
 */
import { fileURLToPath } from 'node:url';
import { inlineSql, migrate, prepareStatements, preparedSql, STEP_STATEMENTS as STEP } from '@sluice/db';
import type { StepSql } from '@sluice/db';
import pg from 'pg';
import { cpuMs } from './budget.js';

const adminUrl = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://sluice:sluice@127.0.0.1:5433/postgres';
const migrationsDir = fileURLToPath(new URL('../prisma/migrations', import.meta.url));
const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  const value = found === undefined ? fallback : Number(found.split('=')[1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${found ?? value}`);
  return value;
};
const STEPS = option('steps', 3000);
const ROUNDS = option('rounds', 4);
const EXECUTIONS = option('executions', 20_000);
const FIRST = args.includes('--first');
const PREPARED = args.includes('--prepared');
const FEW_ROWS = args.includes('--few-rows');
for (const arg of args) {
  if (!/^--(steps|rounds|executions)=/.test(arg) && !['--first', '--prepared', '--few-rows'].includes(arg)) {
    throw new Error(`unknown option ${arg}: --steps=N, --rounds=N, --executions=N, --first, --prepared, --few-rows`);
  }
}
if ([FIRST, PREPARED, FEW_ROWS].filter(Boolean).length > 1) throw new Error('--first, --prepared and --few-rows compare different things: give one');

/** The history and attempts of a task run that ended at `at`, as a step saves them. */
function runJson(at: Date): { history: string; attempts: string } {
  const iso = at.toISOString();
  return {
    history: json([
      { state: 'CREATED', date: iso },
      { state: 'RUNNING', date: iso },
      { state: 'SUCCESS', date: iso },
    ]),
    attempts: json([{ state: { current: 'SUCCESS', histories: [{ state: 'RUNNING', date: iso }, { state: 'SUCCESS', date: iso }] }, workerId: 'worker-1' }]),
  };
}

/** The statement the store sent before: the upsert inline (as scheduler-store.ts had it). */
function inlineSave(runId: string, executionId: string, at: Date): string {
  const { history, attempts } = runJson(at);
  return `INSERT INTO task_runs (id, execution_id, task_id, parent_task_run_id, value, iteration, engine_state, state, state_history, attempts, outputs, metrics,
                                worker_group, worker_id, start_date, end_date, created_at, updated_at)
         VALUES (${lit(runId)}, ${lit(executionId)}, 'hello', NULL, NULL, NULL,
                 NULL, 'SUCCESS', ${history}, ${attempts}, NULL, NULL,
                 'default', 'worker-1', ${date(at)}, ${date(at)}, clock_timestamp(), clock_timestamp())
         ON CONFLICT (id) DO UPDATE SET
           task_id = EXCLUDED.task_id, parent_task_run_id = EXCLUDED.parent_task_run_id, value = EXCLUDED.value,
           iteration = EXCLUDED.iteration, engine_state = EXCLUDED.engine_state, state = EXCLUDED.state,
           state_history = EXCLUDED.state_history, attempts = EXCLUDED.attempts, outputs = EXCLUDED.outputs,
           metrics = EXCLUDED.metrics, worker_group = EXCLUDED.worker_group, worker_id = EXCLUDED.worker_id,
           start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date, updated_at = clock_timestamp()`;
}

/** The same save through the function, as scheduler-store.ts sends it now. */
function functionSave(runId: string, executionId: string, at: Date): string {
  const { history, attempts } = runJson(at);
  return (
    `SELECT sluice_save_task_run(${lit(runId)}, ${lit(executionId)}, 'hello', NULL, NULL, NULL, ` +
    `NULL, 'SUCCESS', ${history}, ${attempts}, NULL, NULL, 'default', 'worker-1', ${date(at)}, ${date(at)})`
  );
}

// The statements as scheduler-store.ts sent them before (its SQL helpers are internal to @sluice/db: DESIGN.md §2).
const lit = (value: string | number | null): string => (value === null ? 'NULL' : typeof value === 'number' ? String(value) : pg.escapeLiteral(value));
const json = (value: unknown): string => (value === null ? 'NULL' : `${pg.escapeLiteral(JSON.stringify(value))}::jsonb`);
const date = (value: Date | null): string => (value === null ? 'NULL' : `${pg.escapeLiteral(value.toISOString())}::timestamptz`);
const INLINE_READ = (key: string): string => `SELECT e.id, e.namespace, e.flow_id, e.flow_revision, e.state, e.state_history, e.inputs, e.outputs, e.labels,
       e.parent_id, e.restarted_from, e.trigger, e.schedule_date, e.attempt_number, e.original_created_date, e.start_date, e.end_date,
       COALESCE((SELECT json_agg(tr ORDER BY tr.seq) FROM task_runs tr WHERE tr.execution_id = e.id), '[]'::json) AS task_runs FROM executions e WHERE e.id = ${key}`;
const FUNCTION_READ = (key: string): string => `SELECT * FROM sluice_execution_with_runs(${key})`;

/** The version of each execution, as the scheduler knows it from its last step. */
const versions = new Map<string, number>();

/**
 * The step that ends a one-task execution from memory, as one simple query: its claim (the state change, conditional
 * on the version known), the task run saved, the read-back.
 */
function step(kind: 'inline' | 'functions', i: number): string {
  const executionId = `x${i % EXECUTIONS}`;
  const key = lit(executionId);
  const at = new Date();
  const state = i % 2 === 0 ? 'SUCCESS' : 'RUNNING';
  const expected = versions.get(executionId) ?? 0;
  versions.set(executionId, expected + 1);
  const entry = json([{ state, date: at.toISOString() }]);
  const claim =
    kind === 'inline'
      ? `WITH claimed AS (UPDATE executions SET state = ${lit(state)}, state_history = state_history || ${entry}, end_date = ${date(state === 'SUCCESS' ? at : null)}, ` +
        `updated_at = ${date(at)}, version = version + 1 WHERE id = ${key} AND version = ${expected} RETURNING version) ` +
        `SELECT COALESCE((SELECT version FROM claimed), sluice_claim_execution(${key}, ${expected})) AS version`
      : `SELECT sluice_set_execution_state(${key}, ${expected}, ${lit(state)}, ${entry}, ${date(state === 'SUCCESS' ? at : null)}, ${date(at)}) AS version`;
  return [
    'BEGIN',
    claim,
    kind === 'inline' ? inlineSave(`run-${i}`, executionId, at) : functionSave(`run-${i}`, executionId, at),
    kind === 'inline' ? INLINE_READ(key) : FUNCTION_READ(key),
    'COMMIT',
  ].join(';\n');
}

/** The INSERT of a new execution (the columns ExecutionRepository.prepare writes), in `state` with `history`. */
function executionInsert(id: string, state: string, history: string, at: Date): string {
  return (
    'INSERT INTO executions (id, namespace, flow_id, flow_revision, state, state_history, inputs, labels, parent_id, trigger, schedule_date, start_date, updated_at, end_date, version) ' +
    `VALUES (${lit(id)}, 'company.team', 'flow-1', 1, ${lit(state)}, ${history}, '{}'::jsonb, ` +
    `${json([{ key: 'system.correlationId', value: id }])}, NULL, NULL, NULL, ${date(at)}, ${date(at)}, NULL, 0)`
  );
}

/**
 * The first step of a new execution (`--first`): `update`, inserted CREATED then moved to RUNNING by an UPDATE in
 * the same transaction; `folded`, the INSERT carrying the change. Both save the first task run, CREATED.
 */
function firstStep(kind: 'update' | 'folded', i: number): string {
  const id = `new-${process.pid}-${i}`;
  const at = new Date();
  const iso = at.toISOString();
  const created = { state: 'CREATED', date: iso };
  const running = { state: 'RUNNING', date: iso };
  const insert = kind === 'update' ? executionInsert(id, 'CREATED', json([created]), at) : executionInsert(id, 'RUNNING', json([created, running]), at);
  const change = `SELECT sluice_set_execution_state(${lit(id)}, 0, 'RUNNING', ${json([running])}, NULL, ${date(at)}) AS version`;
  const save =
    `SELECT sluice_save_task_run(${lit(`run-${i}`)}, ${lit(id)}, 'hello', NULL, NULL, NULL, NULL, 'CREATED', ${json([created])}, '[]'::jsonb, NULL, NULL, ` +
    `NULL, NULL, NULL, NULL)`;
  return ['BEGIN', insert, ...(kind === 'update' ? [change] : []), save, 'COMMIT'].join(';\n');
}

 /**
 * The two steps of a one-`Log`-task execution (`--prepared`), with the arguments SchedulerStore gives them, written
 * by `sql`: inline, or as EXECUTEs.
 */
function executionSteps(sql: StepSql, i: number, rows?: 'insert' | 'executes'): string {
  const id = `one-${process.pid}-${i}`;
  const run = `run-${process.pid}-${i}`;
  const key = lit(id);
  const at = new Date();
  const iso = at.toISOString();
  const history = [{ state: 'CREATED', date: iso }];
  const first = sql(STEP.insertExecution, [
    key, lit('company.team'), lit('flow-1'), '1', lit('RUNNING'), json([...history, { state: 'RUNNING', date: iso }]), json({}),
    json([{ key: 'system.correlationId', value: id }]), 'NULL', 'NULL', 'NULL', date(at), date(at), 'NULL', '0',
  ]);
  const save = (state: string, runHistory: unknown[], attempts: unknown[], end: Date | null): string =>
    sql(STEP.saveTaskRun, [
      lit(run), key, lit('hello'), 'NULL', 'NULL', 'NULL', 'NULL', lit(state), json(runHistory), json(attempts), 'NULL', 'NULL', 'NULL',
      end ? lit('worker-1') : 'NULL', end ? date(at) : 'NULL', date(end),
    ]);
  const ended = [...history, { state: 'RUNNING', date: iso }, { state: 'SUCCESS', date: iso }];
  return [
    'BEGIN',
    first,
    save('CREATED', history, [], null),
    'COMMIT',
    'BEGIN',
    sql(STEP.setState, [key, '0', lit('SUCCESS'), json([{ state: 'SUCCESS', date: iso }]), date(at), date(at)]),
    ...(rows === undefined
      ? [
          sql(STEP.log, [key, lit('company.team'), lit('flow-1'), lit('hello'), lit(run), '1', lit('INFO'), lit(`bench ${id}`), date(at)]),
          sql(STEP.metric, [key, lit('company.team'), lit('flow-1'), lit('hello'), lit(run), '1', lit('timer'), lit('duration'), `${lit('0.002')}::float8`, json({}), date(at)]),
        ]
      : scriptRows(sql, rows, key, run, id, at)),
    save('SUCCESS', ended, [{ state: { current: 'SUCCESS', histories: ended.slice(1) }, workerId: 'worker-1' }], at),
    sql(STEP.noteEnd, [key]),
    sql(STEP.read, [key]),
    'COMMIT',
  ].join(';\n');
}

/** A script task's two log lines and two metrics: one multi-row INSERT for each pair, or one EXECUTE per row. */
function scriptRows(sql: StepSql, rows: 'insert' | 'executes', key: string, run: string, id: string, at: Date): string[] {
  const common = [key, lit('company.team'), lit('flow-1'), lit('hello'), lit(run), '1'];
  const logs = [
    [...common, lit('INFO'), lit(`bench ${id}`), date(at)],
    [...common, lit('WARN'), lit(`bench ${id} on stderr`), date(at)],
  ];
  const metrics = [
    [...common, lit('timer'), lit('duration'), `${lit('0.002')}::float8`, json({}), date(at)],
    [...common, lit('gauge'), lit('exitCode'), `${lit('0')}::float8`, json({}), date(at)],
  ];
  if (rows === 'executes') return [...logs.map((args) => sql(STEP.log, args)), ...metrics.map((args) => sql(STEP.metric, args))];
  // One INSERT ... VALUES (...), (...): the one-row statement inline, with the other rows' VALUES appended.
  const multi = (statement: typeof STEP.log, list: string[][]): string =>
    list.map((args, n) => (n === 0 ? inlineSql(statement, args) : `(${inlineSql(statement, args).split(' VALUES (')[1]}`)).join(', ');
  return [multi(STEP.log, logs), multi(STEP.metric, metrics)];
}

/** The two kinds compared, the baseline first, and one step of each. */
const KINDS = FEW_ROWS
  ? {
      baseline: 'insert',
      candidate: 'executes',
      labels: ['baseline: a multi-row INSERT for the lines, one for the metrics', 'one EXECUTE per row'],
      step: (kind: string, i: number) => executionSteps(preparedSql, i, kind as 'insert' | 'executes'),
    }
  : PREPARED
  ? {
      baseline: 'inline',
      candidate: 'prepared',
      labels: ['baseline: every statement inline', 'EXECUTEs of the prepared statements'],
      step: (kind: string, i: number) => executionSteps(kind === 'prepared' ? preparedSql : inlineSql, i),
    }
  : FIRST
  ? { baseline: 'update', candidate: 'folded', labels: ['baseline: inserted CREATED, then updated', 'the INSERT carries the state change'], step: (kind: string, i: number) => firstStep(kind as 'update' | 'folded', i) }
  : { baseline: 'inline', candidate: 'functions', labels: ['baseline: statements inline', 'functions (migration 20261206100000)'], step: (kind: string, i: number) => step(kind as 'inline' | 'functions', i) };

async function main(): Promise<void> {
  const name = `sluice_bench_step_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: url.toString() });
  try {
    await migrate({ databaseUrl: url.toString(), migrationsDir });
    await client.connect();
    await client.query(
      `INSERT INTO executions (id, namespace, flow_id, flow_revision, state, state_history, labels, start_date, updated_at)
       SELECT 'x' || n, 'company.team', 'flow-' || (n % 50), 1, 'RUNNING', '[{"state":"CREATED","date":"2026-01-01T00:00:00.000Z"}]'::jsonb,
              jsonb_build_array(jsonb_build_object('key', 'system.correlationId', 'value', 'x' || n)), now(), now()
       FROM generate_series(0, ${EXECUTIONS - 1}) n`,
    );
    await client.query('VACUUM ANALYZE executions');
    if (PREPARED || FEW_ROWS) await client.query(prepareStatements(new Set()) ?? '');
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    if (pid === undefined) throw new Error('no backend pid');
    // Warm both up (the functions' plans, the caches), then alternate.
    const { baseline, candidate } = KINDS;
    for (let i = 0; i < 200; i++) await client.query(KINDS.step(i % 2 === 0 ? baseline : candidate, i));
    const totals: Record<string, { ms: number; cpu: number; steps: number }> = { [baseline]: { ms: 0, cpu: 0, steps: 0 }, [candidate]: { ms: 0, cpu: 0, steps: 0 } };
    let i = 1000;
    console.log(`${STEPS} ${FIRST ? 'first steps' : PREPARED || FEW_ROWS ? 'executions (their two steps)' : 'steps'} per round, ${ROUNDS} rounds of each, alternating; ${EXECUTIONS} executions in the table\n`);
    console.log('| round | kind | ms per step (round trip) | backend CPU ms per step |');
    console.log('|---|---|---|---|');
    for (let round = 1; round <= ROUNDS; round++) {
      for (const kind of round % 2 === 1 ? [baseline, candidate] : [candidate, baseline]) {
        const cpuBefore = (await cpuMs(pid)).self;
        const start = performance.now();
        for (let n = 0; n < STEPS; n++) await client.query(KINDS.step(kind, i++));
        const ms = performance.now() - start;
        const cpu = (await cpuMs(pid)).self - cpuBefore;
        totals[kind]!.ms += ms;
        totals[kind]!.cpu += cpu;
        totals[kind]!.steps += STEPS;
        console.log(`| ${round} | ${kind} | ${(ms / STEPS).toFixed(3)} | ${(cpu / STEPS).toFixed(3)} |`);
      }
    }
    const per = (kind: string, field: 'ms' | 'cpu'): number => totals[kind]![field] / totals[kind]!.steps;
    console.log(`\n| per step | ${KINDS.labels[0]} | ${KINDS.labels[1]} | ratio |`);
    console.log('|---|---|---|---|');
    for (const [label, field] of [
      ['latency, ms', 'ms'],
      ['Postgres backend CPU, ms', 'cpu'],
    ] as const) {
      console.log(`| ${label} | ${per(baseline, field).toFixed(3)} | ${per(candidate, field).toFixed(3)} | ${(per(candidate, field) / per(baseline, field)).toFixed(2)}x |`);
    }
  } finally {
    await client.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

await main();

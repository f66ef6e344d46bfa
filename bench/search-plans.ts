/**
 * Query plans of the searches with Kestra 1.x's filters (issue #17, part 3): does an index serve each typical search,
 * or does Postgres scan `executions` or `logs`?
 *
 * Fills a separate database of the test Postgres (`sluice_bench_search`, migrated with the repo's migrator) with
 * 1,000,000 executions, 10,000,000 log lines and 10,000 flows, generated in SQL (`INSERT ... SELECT generate_series`),
 * the secondary indexes dropped during the load and rebuilt after it from their migration definitions (a bulk build
 * is far faster than a row-at-a-time update; the indexes are the same), then VACUUM ANALYZE (the visibility map lets
 * counts be index-only). Then, for each typical search, prints `EXPLAIN (ANALYZE, BUFFERS)` of its page query and of
 * its count (the SQL the repositories build, with the values inline), and times the repository call itself
 * (the median of 3, after one warm-up).
 *
 * Data: 100 namespaces (`co.t0` ... `co.t49`, each with a child `co.tN.sub`), 20 flows each; states mostly SUCCESS
 * (FAILED 10 %, RUNNING 1 %); labels team (10 values), env (3) and release (1,000); one execution every 30 s over
 * about a year; 10 log lines per execution (ERROR 2 %, WARN 5 %, INFO 53 %, DEBUG 30 %, TRACE 10 %), one in 1,000
 * saying "Connection refused".
 *
 *   npm run bench:search-plans -- [--fresh] [--executions=N] [--logs=N]
 *
 * The data is kept between runs (reused when its counts match; `--fresh` regenerates it). Needs the test Postgres
 * (`bash scripts/services.sh`, or SLUICE_TEST_DATABASE_URL).
 */
import { fileURLToPath } from 'node:url';
import { createDb, levelsFrom, migrate } from '@sluice/db';
import type { Db } from '@sluice/db';
import pg from 'pg';

const adminUrl = process.env.SLUICE_TEST_DATABASE_URL ?? 'postgres://sluice:sluice@127.0.0.1:5433/postgres';
const migrationsDir = fileURLToPath(new URL('../prisma/migrations', import.meta.url));
const DATABASE = 'sluice_bench_search';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found === undefined ? fallback : Number(found.split('=')[1]);
};
const EXECUTIONS = option('executions', 1_000_000);
const LOGS = option('logs', 10_000_000);
const FLOWS = 10_000;
const fresh = args.includes('--fresh');

function databaseUrl(name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await run();
  console.log(`  ${label}: ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return result;
}

/** Create, migrate and fill the database, unless it already holds the sizes asked for. */
async function prepare(): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE])).rowCount === 1;
  if (exists && !fresh) {
    const client = new pg.Client({ connectionString: databaseUrl(DATABASE) });
    await client.connect();
    const counts = await client
      .query<{ e: string; l: string }>('SELECT (SELECT count(*) FROM executions) AS e, (SELECT count(*) FROM logs) AS l')
      .catch(() => ({ rows: [{ e: '-1', l: '-1' }] }));
    await client.end();
    if (Number(counts.rows[0]!.e) === EXECUTIONS && Number(counts.rows[0]!.l) === LOGS) {
      console.log(`reusing ${DATABASE}: ${EXECUTIONS} executions, ${LOGS} log lines (--fresh regenerates)`);
      await admin.end();
      await migrate({ databaseUrl: databaseUrl(DATABASE), migrationsDir });
      return;
    }
  }
  if (exists) await admin.query(`DROP DATABASE "${DATABASE}" WITH (FORCE)`);
  await admin.query(`CREATE DATABASE "${DATABASE}"`);
  await admin.end();
  console.log(`generating ${DATABASE}: ${EXECUTIONS} executions, ${LOGS} log lines, ${FLOWS} flows`);
  await timed('migrate', () => migrate({ databaseUrl: databaseUrl(DATABASE), migrationsDir }));
  const client = new pg.Client({ connectionString: databaseUrl(DATABASE) });
  await client.connect();
  await client.query("SET maintenance_work_mem = '1GB'");
  await client.query('SET max_parallel_maintenance_workers = 2');
  await client.query("SET synchronous_commit = 'off'");
  // The secondary indexes, as the migrations made them, dropped for the load and rebuilt after it.
  const indexes = (
    await client.query<{ indexname: string; indexdef: string }>(
      `SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.schemaname = 'public' AND i.tablename IN ('executions', 'logs', 'flows')
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
    )
  ).rows;
  for (const index of indexes) await client.query(`DROP INDEX "${index.indexname}"`);
  await timed(`flows (${FLOWS})`, () =>
    client.query(`
      INSERT INTO flows (namespace, flow_id, revision, source, parsed, deleted, latest, created_at)
      SELECT 'co.t' || (i % 50) || CASE WHEN (i / 50) % 5 = 0 THEN '.sub' ELSE '' END, 'flow' || i, 1, 'id: x', '{}'::jsonb, false, true, now()
        FROM generate_series(0, ${FLOWS - 1}) AS i`),
  );
  await timed(`executions (${EXECUTIONS})`, () =>
    client.query(`
      INSERT INTO executions (id, namespace, flow_id, flow_revision, state, state_history, labels, parent_id, start_date, end_date, created_at, updated_at)
      SELECT 'e' || i,
             'co.t' || (i % 50) || CASE WHEN (i / 50) % 5 = 0 THEN '.sub' ELSE '' END,
             'flow' || ((i / 7) % 20),
             1,
             CASE WHEN i % 100 < 10 THEN 'FAILED' WHEN i % 100 = 10 THEN 'RUNNING' WHEN i % 100 < 16 THEN 'WARNING' WHEN i % 100 < 20 THEN 'KILLED' ELSE 'SUCCESS' END,
             '[]'::jsonb,
             jsonb_build_array(jsonb_build_object('key', 'team', 'value', 't' || (i % 10)),
                               jsonb_build_object('key', 'env', 'value', (ARRAY['dev', 'staging', 'prod'])[i % 3 + 1]),
                               jsonb_build_object('key', 'release', 'value', 'r' || (i % 1000))),
             CASE WHEN i % 20 = 19 THEN 'e' || (i - 1) END,
             s, s + interval '12 seconds', s, s
        FROM generate_series(0, ${EXECUTIONS - 1}) AS i, LATERAL (SELECT timestamptz '2025-01-01 00:00:00+00' + i * interval '30 seconds' AS s) d`),
  );
  // Logs in chunks of 1,000,000 lines: each chunk commits, so a long load shows progress and holds no giant transaction.
  const chunk = 1_000_000;
  for (let from = 0; from < LOGS; from += chunk) {
    const to = Math.min(LOGS, from + chunk) - 1;
    await timed(`logs ${from}..${to}`, () =>
      client.query(`
        INSERT INTO logs (execution_id, namespace, flow_id, task_id, task_run_id, attempt_number, level, message, "timestamp")
        SELECT 'e' || j,
               'co.t' || (j % 50) || CASE WHEN (j / 50) % 5 = 0 THEN '.sub' ELSE '' END,
               'flow' || ((j / 7) % 20),
               'task' || (i % 10), 'r' || i, 0,
               CASE WHEN i % 100 < 2 THEN 'ERROR' WHEN i % 100 < 7 THEN 'WARN' WHEN i % 100 < 60 THEN 'INFO' WHEN i % 100 < 90 THEN 'DEBUG' ELSE 'TRACE' END,
               CASE WHEN i % 1000 = 999 THEN 'Connection refused by host db' || (i % 17) || '.internal'
                    ELSE 'task ' || (i % 37) || ' processed ' || (i % 9973) || ' rows from table t' || (i % 113) END,
               timestamptz '2025-01-01 00:00:00+00' + j * interval '30 seconds' + (i % 10) * interval '100 milliseconds'
          FROM generate_series(${from}, ${to}) AS i, LATERAL (SELECT i / 10 AS j) k`),
    );
  }
  for (const index of indexes) await timed(`index ${index.indexname}`, () => client.query(index.indexdef));
  await timed('VACUUM ANALYZE', () => client.query('VACUUM ANALYZE'));
  await client.end();
}

interface Case {
  readonly name: string;
  /** The search's page query and its count, as the repository builds them (values inline). */
  readonly page: string;
  readonly count: string;
  /** The same search through the repository. */
  readonly call: (db: Db) => Promise<{ total: number }>;
}

/** A namespace and its children, as `prefixCondition` (packages/db/src/search-filters.ts) writes it. */
const ns = "(namespace ~>=~ 'co.t7' AND namespace ~<~ 'co.t7/' AND (namespace = 'co.t7' OR namespace LIKE 'co.t7.%'))";
const day = ["'2025-06-01T00:00:00Z'", "'2025-06-02T00:00:00Z'"] as const;
const hour = ["'2025-06-01T10:00:00Z'", "'2025-06-01T11:00:00Z'"] as const;
const execPage = (where: string, order = 'start_date DESC, id DESC', offset = 0): string =>
  `SELECT id FROM executions WHERE ${where} ORDER BY ${order} LIMIT 25 OFFSET ${offset}`;
const execCount = (where: string): string => `SELECT count(*) FROM executions WHERE ${where}`;
const logPage = (where: string): string => `SELECT * FROM logs WHERE ${where} ORDER BY "timestamp" DESC, id DESC LIMIT 25`;
const logCount = (where: string): string => `SELECT count(*) FROM logs WHERE ${where}`;
const warnUp = `level IN (${levelsFrom('WARN').map((l) => `'${l}'`).join(', ')})`;

const CASES: Case[] = [
  {
    name: 'executions: namespace (PREFIX co.t7: itself and co.t7.sub)',
    page: execPage(ns), count: execCount(ns),
    call: (db) => db.executions.search({ filters: [{ field: 'namespace', operation: 'PREFIX', values: ['co.t7'] }], page: 1, size: 25 }),
  },
  {
    name: 'executions: namespace EQUALS + flowId EQUALS',
    page: execPage("namespace = 'co.t7' AND flow_id = 'flow3'"), count: execCount("namespace = 'co.t7' AND flow_id = 'flow3'"),
    call: (db) => db.executions.search({
      filters: [{ field: 'namespace', operation: 'EQUALS', values: ['co.t7'] }, { field: 'flowId', operation: 'EQUALS', values: ['flow3'] }], page: 1, size: 25,
    }),
  },
  {
    name: 'executions: state EQUALS FAILED (10 %)',
    page: execPage("state IN ('FAILED')"), count: execCount("state IN ('FAILED')"),
    call: (db) => db.executions.search({ filters: [{ field: 'state', operation: 'EQUALS', values: ['FAILED'] }], page: 1, size: 25 }),
  },
  {
    name: 'executions: state IN RUNNING,KILLED',
    page: execPage("state IN ('RUNNING', 'KILLED')"), count: execCount("state IN ('RUNNING', 'KILLED')"),
    call: (db) => db.executions.search({ filters: [{ field: 'state', operation: 'IN', values: ['RUNNING', 'KILLED'] }], page: 1, size: 25 }),
  },
  {
    name: 'executions: labels EQUALS release=r42 (0.1 %)',
    page: execPage(`labels @> '[{"key":"release","value":"r42"}]'::jsonb`), count: execCount(`labels @> '[{"key":"release","value":"r42"}]'::jsonb`),
    call: (db) => db.executions.search({ filters: [{ field: 'labels', operation: 'EQUALS', labels: [{ key: 'release', value: 'r42' }] }], page: 1, size: 25 }),
  },
  {
    name: 'executions: time range (one day)',
    page: execPage(`start_date >= ${day[0]} AND start_date <= ${day[1]}`), count: execCount(`start_date >= ${day[0]} AND start_date <= ${day[1]}`),
    call: (db) => db.executions.search({
      filters: [
        { field: 'startDate', operation: 'GREATER_THAN_OR_EQUAL_TO', date: new Date('2025-06-01T00:00:00Z') },
        { field: 'endDate', operation: 'LESS_THAN_OR_EQUAL_TO', date: new Date('2025-06-02T00:00:00Z') },
      ], page: 1, size: 25,
    }),
  },
  {
    name: 'executions: no filter, page 21 by start date (the count reads the whole index)',
    page: execPage('TRUE', 'start_date DESC, id DESC', 500), count: execCount('TRUE'),
    call: (db) => db.executions.search({ page: 21, size: 25 }),
  },
  {
    name: 'executions: namespace PREFIX, sorted by state.startDate:asc',
    page: execPage(ns, 'start_date ASC, id DESC'), count: execCount(ns),
    call: (db) => db.executions.search({ filters: [{ field: 'namespace', operation: 'PREFIX', values: ['co.t7'] }], sort: [{ field: 'state.startDate', desc: false }], page: 1, size: 25 }),
  },
  {
    name: 'executions: q EQUALS e12345 (trigram)',
    page: execPage("(namespace || ' ' || flow_id || ' ' || id) ILIKE '%e12345%'"), count: execCount("(namespace || ' ' || flow_id || ' ' || id) ILIKE '%e12345%'"),
    call: (db) => db.executions.search({ filters: [{ field: 'q', operation: 'EQUALS', values: ['e12345'] }], page: 1, size: 25 }),
  },
  {
    name: 'logs: namespace (PREFIX co.t7)',
    page: logPage(ns), count: logCount(ns),
    call: (db) => db.logs.search({ filters: [{ field: 'namespace', operation: 'PREFIX', values: ['co.t7'] }], page: 1, size: 25 }),
  },
  {
    name: 'logs: namespace EQUALS + flowId EQUALS',
    page: logPage("namespace = 'co.t7' AND flow_id = 'flow3'"), count: logCount("namespace = 'co.t7' AND flow_id = 'flow3'"),
    call: (db) => db.logs.search({
      filters: [{ field: 'namespace', operation: 'EQUALS', values: ['co.t7'] }, { field: 'flowId', operation: 'EQUALS', values: ['flow3'] }], page: 1, size: 25,
    }),
  },
  {
    name: 'logs: level EQUALS ERROR (2 %)',
    page: logPage("level IN ('ERROR')"), count: logCount("level IN ('ERROR')"),
    call: (db) => db.logs.search({ filters: [{ field: 'level', operation: 'EQUALS', values: levelsFrom('ERROR') }], page: 1, size: 25 }),
  },
  {
    name: 'logs: level EQUALS WARN (WARN and ERROR, 7 %)',
    page: logPage(warnUp), count: logCount(warnUp),
    call: (db) => db.logs.search({ filters: [{ field: 'level', operation: 'EQUALS', values: levelsFrom('WARN') }], page: 1, size: 25 }),
  },
  {
    name: 'logs: time range (one hour)',
    page: logPage(`"timestamp" >= ${hour[0]} AND "timestamp" <= ${hour[1]}`), count: logCount(`"timestamp" >= ${hour[0]} AND "timestamp" <= ${hour[1]}`),
    call: (db) => db.logs.search({
      filters: [
        { field: 'startDate', operation: 'GREATER_THAN_OR_EQUAL_TO', date: new Date('2025-06-01T10:00:00Z') },
        { field: 'endDate', operation: 'LESS_THAN_OR_EQUAL_TO', date: new Date('2025-06-01T11:00:00Z') },
      ], page: 1, size: 25,
    }),
  },
  {
    name: 'logs: q EQUALS "refused" (0.1 %, trigram)',
    page: logPage("message ILIKE '%refused%'"), count: logCount("message ILIKE '%refused%'"),
    call: (db) => db.logs.search({ filters: [{ field: 'q', operation: 'EQUALS', values: ['refused'] }], page: 1, size: 25 }),
  },
  {
    name: 'logs: q EQUALS "host db3." + namespace PREFIX co.t7',
    page: logPage(`message ILIKE '%host db3.%' AND ${ns}`), count: logCount(`message ILIKE '%host db3.%' AND ${ns}`),
    call: (db) => db.logs.search({
      filters: [{ field: 'q', operation: 'EQUALS', values: ['host db3.'] }, { field: 'namespace', operation: 'PREFIX', values: ['co.t7'] }], page: 1, size: 25,
    }),
  },
  {
    name: 'logs: executionId EQUALS',
    page: logPage("execution_id = 'e123456'"), count: logCount("execution_id = 'e123456'"),
    call: (db) => db.logs.search({ filters: [{ field: 'executionId', operation: 'EQUALS', values: ['e123456'] }], page: 1, size: 25 }),
  },
  {
    name: 'logs: executionId EQUALS + level EQUALS INFO + q',
    page: logPage(`execution_id = 'e123456' AND ${`level IN (${levelsFrom('INFO').map((l) => `'${l}'`).join(', ')})`} AND message ILIKE '%processed%'`),
    count: logCount(`execution_id = 'e123456' AND ${`level IN (${levelsFrom('INFO').map((l) => `'${l}'`).join(', ')})`} AND message ILIKE '%processed%'`),
    call: (db) => db.logs.search({
      filters: [
        { field: 'executionId', operation: 'EQUALS', values: ['e123456'] },
        { field: 'level', operation: 'EQUALS', values: levelsFrom('INFO') },
        { field: 'q', operation: 'EQUALS', values: ['processed'] },
      ], page: 1, size: 25,
    }),
  },
  {
    name: 'flows: namespace (PREFIX co.t7)',
    page: `SELECT namespace, flow_id FROM flows WHERE latest AND NOT deleted AND ${ns} ORDER BY namespace, flow_id LIMIT 25`,
    count: `SELECT count(*) FROM flows WHERE latest AND NOT deleted AND ${ns}`,
    call: (db) => db.flows.search({ filters: [{ field: 'namespace', operation: 'PREFIX', values: ['co.t7'] }], page: 1, size: 25 }),
  },
];

/** The lines worth keeping from a plan: scan nodes (with their index), sorts, and the totals. */
function keyLines(plan: string[]): string[] {
  return plan.filter((line) => /Scan|Sort Method|Execution Time|Bitmap|Limit|Aggregate|Index Cond|Recheck/.test(line)).map((line) => line.trim());
}

async function main(): Promise<void> {
  await prepare();
  const client = new pg.Client({ connectionString: databaseUrl(DATABASE) });
  await client.connect();
  const db = createDb({ databaseUrl: databaseUrl(DATABASE) });
  const sizes = (
    await client.query<{ relname: string; size: string }>(
      `SELECT relname, pg_size_pretty(pg_relation_size(oid)) AS size FROM pg_class
        WHERE relname IN ('executions', 'logs', 'flows') OR relname LIKE 'executions\\_%idx' OR relname LIKE 'logs\\_%idx' OR relname LIKE 'flows\\_%idx'
        ORDER BY relname`,
    )
  ).rows;
  console.log(`\nsizes: ${sizes.map((s) => `${s.relname} ${s.size}`).join(', ')}`);
  const summary: string[] = [];
  for (const c of CASES) {
    console.log(`\n### ${c.name}`);
    const lines: string[] = [];
    for (const [kind, sql] of [['page', c.page], ['count', c.count]] as const) {
      await client.query(sql); // warm
      const plan = (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`)).rows.map((r) => r['QUERY PLAN']);
      console.log(`-- ${kind}: ${sql}`);
      for (const line of plan) console.log(line);
      const scans = plan.filter((l) => /Seq Scan on (executions|logs)\b/.test(l));
      if (scans.length > 0) console.log(`!! SEQUENTIAL SCAN: ${scans.map((s) => s.trim()).join(' | ')}`);
      lines.push(`${kind}: ${keyLines(plan).filter((l) => /Scan|Execution Time/.test(l)).join(' / ')}`);
    }
    await c.call(db); // warm
    const times: number[] = [];
    let total = 0;
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      total = (await c.call(db)).total;
      times.push(performance.now() - start);
    }
    const median = times.sort((x, y) => x - y)[1]!;
    console.log(`-- repository call: total ${total}, median of 3 ${median.toFixed(1)} ms`);
    summary.push(`${c.name} | total ${total} | repository ${median.toFixed(1)} ms\n    ${lines.join('\n    ')}`);
  }
  console.log('\n## Summary\n');
  for (const line of summary) console.log(line);
  await db.close();
  await client.end();
}

await main();

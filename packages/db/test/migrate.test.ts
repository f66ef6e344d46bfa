import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile, mkdir, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { migrate, MigrationError } from '@sluice/db';
import { describeWithPostgres, MIGRATIONS_DIR } from './postgres-fixture.js';

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

/** A copy of the real migrations folder that a test may alter. */
async function migrationsCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-migrations-'));
  scratch.push(dir);
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

await describeWithPostgres('migrate', (postgres) => {
  it('creates every table and a Prisma-compatible _prisma_migrations row on an empty database, then is a no-op', async () => {
    const url = await postgres.createDatabase();
    const names = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    const messages: string[] = [];

    const first = await migrate({ databaseUrl: url, migrationsDir: MIGRATIONS_DIR, log: (m) => messages.push(m) });
    expect(first).toEqual({ applied: names, alreadyApplied: [] });
    expect(messages).toHaveLength(names.length);

    const tables = await query<{ table_name: string }>(
      url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual([
      '_prisma_migrations', 'execution_ends', 'executions', 'flow_trigger_windows', 'flows', 'kv_entries', 'logs', 'metrics', 'subflow_results', 'task_runs', 'triggers', 'workers',
    ]);

    const rows = await query<Record<string, unknown>>(url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name');
    expect(rows).toHaveLength(names.length);
    for (const [i, row] of rows.entries()) {
      const sql = await readFile(join(MIGRATIONS_DIR, names[i]!, 'migration.sql'));
      expect(row).toMatchObject({
        migration_name: names[i],
        checksum: createHash('sha256').update(sql).digest('hex'),
        logs: null,
        rolled_back_at: null,
        applied_steps_count: 1,
      });
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect((row.finished_at as Date).getTime()).toBeGreaterThanOrEqual((row.started_at as Date).getTime());
    }
    // Prisma's exact bookkeeping columns.
    const columns = await query<{ column_name: string; data_type: string; is_nullable: string }>(
      url,
      "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position",
    );
    expect(columns.map((c) => `${c.column_name} ${c.data_type} ${c.is_nullable}`)).toEqual([
      'id character varying NO',
      'checksum character varying NO',
      'finished_at timestamp with time zone YES',
      'migration_name character varying NO',
      'logs text YES',
      'rolled_back_at timestamp with time zone YES',
      'started_at timestamp with time zone NO',
      'applied_steps_count integer NO',
    ]);

    const second = await migrate({ databaseUrl: url, migrationsDir: MIGRATIONS_DIR });
    expect(second).toEqual({ applied: [], alreadyApplied: names });
    expect(await query(url, 'SELECT * FROM "_prisma_migrations" ORDER BY migration_name')).toEqual(rows);
  });

  it('applies exactly once when two appliers race', async () => {
    const url = await postgres.createDatabase();
    const [a, b] = await Promise.all([
      migrate({ databaseUrl: url, migrationsDir: MIGRATIONS_DIR }),
      migrate({ databaseUrl: url, migrationsDir: MIGRATIONS_DIR }),
    ]);
    const count = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((e) => e.isDirectory()).length;
    // One applier applied all of them, the other none.
    expect([a.applied.length, b.applied.length].sort()).toEqual([0, count]);
    expect(a.applied.length + a.alreadyApplied.length).toBe(count);
    const rows = await query<{ n: string }>(url, 'SELECT count(*) AS n FROM "_prisma_migrations"');
    expect(rows[0]!.n).toBe(String(count));
  });

  it('refuses to start when an applied migration changed, naming it and both checksums', async () => {
    const url = await postgres.createDatabase();
    const dir = await migrationsCopy();
    await migrate({ databaseUrl: url, migrationsDir: dir });
    const [name] = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    const file = join(dir, name!, 'migration.sql');
    const before = createHash('sha256').update(await readFile(file)).digest('hex');
    await appendFile(file, '\n-- edited after it was applied\n');
    const after = createHash('sha256').update(await readFile(file)).digest('hex');
    // A pending migration must not be applied either.
    await mkdir(join(dir, '99990101000000_next'));
    await writeFile(join(dir, '99990101000000_next', 'migration.sql'), 'CREATE TABLE "should_not_exist" ("x" INTEGER);\n');

    const error = await migrate({ databaseUrl: url, migrationsDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).migration).toBe(name);
    expect((error as MigrationError).code).toBe('SLU_DB_MIGRATION_FAILED');
    expect((error as Error).message).toContain(name);
    expect((error as Error).message).toContain(before);
    expect((error as Error).message).toContain(after);
    expect(await query(url, "SELECT 1 FROM information_schema.tables WHERE table_name = 'should_not_exist'")).toEqual([]);
  });

  it('rolls a failing migration back entirely, bookkeeping row included', async () => {
    const url = await postgres.createDatabase();
    const dir = await migrationsCopy();
    await mkdir(join(dir, '99990101000000_broken'));
    await writeFile(
      join(dir, '99990101000000_broken', 'migration.sql'),
      'CREATE TABLE "half_done" ("x" INTEGER);\nSELECT * FROM "no_such_table";\n',
    );
    const error = await migrate({ databaseUrl: url, migrationsDir: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/99990101000000_broken failed and was rolled back: .*no_such_table/);
    expect(await query(url, "SELECT 1 FROM information_schema.tables WHERE table_name = 'half_done'")).toEqual([]);
    const names = await query<{ migration_name: string }>(url, 'SELECT migration_name FROM "_prisma_migrations"');
    expect(names.map((n) => n.migration_name)).not.toContain('99990101000000_broken');
    // The migrations before it stay applied.
    expect(names).toHaveLength((await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((e) => e.isDirectory()).length);
  });
});

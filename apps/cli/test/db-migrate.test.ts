import { appendFile, cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { dbMigrateCommand } from '../src/commands/db-migrate.js';
import { main } from '../src/main.js';
import type { CliEnv } from '../src/main.js';
import { describeWithPostgres, MIGRATIONS_DIR } from '../../../packages/db/test/postgres-fixture.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function capture(): { io: { stdout: (t: string) => void; stderr: (t: string) => void }; result: (code: number) => Run } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
    result: (code) => ({ code, stdout: out.join('\n'), stderr: err.join('\n') }),
  };
}

async function run(env: CliEnv, ...argv: string[]): Promise<Run> {
  const { io, result } = capture();
  return result(await main(argv, io, env));
}

const migrationNames = (await readdir(MIGRATIONS_DIR, { withFileTypes: true }))
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

await describeWithPostgres('sluice db migrate', (postgres) => {
  it('applies every migration, then says the database is up to date', async () => {
    const url = await postgres.createDatabase();
    const first = await run({}, 'db', 'migrate', '--database-url', url);
    expect(first).toEqual({ code: 0, stdout: migrationNames.map((name) => `applied ${name}`).join('\n'), stderr: '' });
    expect(first.stdout).toContain('applied 20261128170000_init');

    const second = await run({ DATABASE_URL: url }, 'db', 'migrate');
    expect(second).toEqual({ code: 0, stdout: 'database is up to date', stderr: '' });
  });

  it('prefers --database-url over DATABASE_URL', async () => {
    const url = await postgres.createDatabase();
    const result = await run({ DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' }, 'db', 'migrate', `--database-url=${url}`);
    expect(result.code).toBe(0);
  });

  it('exits 1 with one line when an applied migration was modified', async () => {
    const url = await postgres.createDatabase();
    expect((await run({ DATABASE_URL: url }, 'db', 'migrate')).code).toBe(0);
    const dir = await mkdtemp(join(tmpdir(), 'sluice-cli-migrations-'));
    scratch.push(dir);
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
    const changed = migrationNames[0] ?? '';
    await appendFile(join(dir, changed, 'migration.sql'), '\n-- edited afterwards\n');

    const { io, result } = capture();
    const outcome = result(await dbMigrateCommand({ databaseUrl: url, migrationsDir: dir }, io));
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr.split('\n')).toHaveLength(1);
    expect(outcome.stderr).toMatch(new RegExp(`^sluice: migration ${changed} was modified after it was applied: `));
  });
});

it('exits 2 with one line when no database URL is given', async () => {
  const result = await run({}, 'db', 'migrate');
  expect(result).toEqual({
    code: 2,
    stdout: '',
    stderr: 'sluice: db migrate needs a database: pass --database-url URL or set DATABASE_URL (see sluice --help)',
  });
  expect((await run({}, 'db', 'migrate', '--database-url', 'mysql://x')).code).toBe(2);
  expect((await run({}, 'db')).stderr).toBe('sluice: db needs a subcommand: migrate (see sluice --help)');
});

it('exits 2 with one line, password hidden, when the database does not answer', async () => {
  const result = await run({ DATABASE_URL: 'postgres://sluice:secret@127.0.0.1:1/sluice' }, 'db', 'migrate');
  expect(result.code).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr.split('\n')).toHaveLength(1);
  expect(result.stderr).toMatch(/^sluice: cannot reach the database: connect ECONNREFUSED 127\.0\.0\.1:1 \(postgres:\/\/sluice:\*\*\*@127\.0\.0\.1:1\/sluice\)$/);
  expect(result.stderr).not.toContain('secret');
});

it('exits 2 when the server answers but refuses the credentials', async () => {
  const result = await run({}, 'db', 'migrate', '--database-url', 'postgres://sluice:wrong-password@127.0.0.1:5433/postgres');
  // Either the test Postgres refuses the password (28P01) or it is not running (ECONNREFUSED): both are exit 2.
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(/^sluice: cannot reach the database: /);
});

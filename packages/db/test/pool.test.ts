import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { describeWithPostgres } from './postgres-fixture.js';

const fixture = fileURLToPath(new URL('./fixtures/idle-pool.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

await describeWithPostgres('the connection pool', (postgres) => {
  it('keeps an idle connection past pg’s 10 s default, and an idle pool never keeps the process alive', async () => {
    const databaseUrl = await postgres.createDatabase();
    const child = spawn(process.execPath, ['--conditions=@sluice/source', '--import', 'tsx', fixture, databaseUrl, '11000'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    const started = Date.now();
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    expect(code, `the script did not exit on its own:\n${stderr}`).toBe(0);
    // It exited right after its last query, not when an idle timeout ran out.
    expect(Date.now() - started).toBeLessThan(25_000);
    const { first, second } = JSON.parse(stdout) as { first: number; second: number };
    expect(first).toBeGreaterThan(0);
    // The same Postgres backend answered after 11 s idle: the connection was kept, not opened again.
    expect(second).toBe(first);
  }, 40_000);
});

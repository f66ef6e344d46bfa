/**
 * `sluice execute --wait` on an execution that PAUSES, and `sluice resume`, against a real API over Postgres. No
 * scheduler runs: the test writes what it would (the execution PAUSED at a Pause task run, then RUNNING and SUCCESS
 * once resumed) straight into the database.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pausedLine } from '../src/commands/execute.js';
import { main } from '../src/main.js';
import type { CliEnv } from '../src/main.js';
import { startApi } from './api-fixture.js';

const api = await startApi();
const env: CliEnv = api ? { SLUICE_SERVER_URL: api.url } : {};
const scratch = mkdtempSync(join(tmpdir(), 'sluice-cli-resume-'));

afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  await api?.close();
});

const FLOW = `id: approval
namespace: cli.pause
tasks:
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: count
        type: INT
      - id: report
        type: FILE
        required: false
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.approve.onResume.count }}"
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Start the CLI; `out`/`err` fill while it runs, `done` resolves with everything it printed. */
function start(...argv: string[]): { out: string[]; err: string[]; done: Promise<Run> } {
  const out: string[] = [];
  const err: string[] = [];
  const done = main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) }, env).then((code) => ({ code, stdout: out.join('\n'), stderr: err.join('\n') }));
  return { out, err, done };
}

const run = (...argv: string[]): Promise<Run> => start(...argv).done;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The id of the next execution the API hands to the (recording) queue. */
async function nextExecutionId(): Promise<string> {
  const before = api!.queue.events.length;
  let id: string | undefined;
  await until('an execution to be created', () => {
    const event = api!.queue.events[before];
    if (event?.type === 'executionCreated') id = event.event.executionId;
    return id !== undefined;
  });
  return id!;
}

/** What the scheduler does when the flow reaches its Pause: the run PAUSED, the execution PAUSED. */
async function pauseAtApprove(id: string): Promise<void> {
  const date = new Date().toISOString();
  const history = JSON.stringify(['CREATED', 'RUNNING', 'PAUSED'].map((state) => ({ state, date })));
  await api!.db.executions.transition(id, ['CREATED'], 'RUNNING');
  await api!.db.prisma.$executeRaw`
    INSERT INTO task_runs (id, execution_id, task_id, state, state_history, attempts, created_at, updated_at)
    VALUES (${`${id}-approve`}, ${id}, 'approve', 'PAUSED', ${history}::jsonb, ${JSON.stringify([{ state: { current: 'PAUSED', histories: JSON.parse(history) as unknown } }])}::jsonb, now(), now())`;
  await api!.db.executions.transition(id, ['RUNNING'], 'PAUSED');
}

const stateOf = async (id: string): Promise<string> => {
  const execution = (await (await api!.fetch(`/api/v1/executions/${id}`)).json()) as { state: { current: string } };
  return execution.state.current;
};

describe.skipIf(!api)('sluice execute --wait on a PAUSED execution, and sluice resume', () => {
  beforeAll(async () => {
    const response = await api!.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: FLOW });
    expect(response.status, await response.clone().text()).toBe(200);
  });

  it('execute --wait reports PAUSED and keeps waiting; sluice resume resumes it; the wait follows it to its end', async () => {
    const waiting = start('execute', 'cli.pause', 'approval', '--wait');
    let exited = false;
    void waiting.done.then(() => (exited = true));
    const id = await nextExecutionId();
    await pauseAtApprove(id);
    await until('the PAUSED line', () => waiting.out.includes(pausedLine(id)));
    expect(pausedLine(id)).toBe(`execution ${id} PAUSED: waiting for a resume (sluice resume ${id}, or POST /api/v1/executions/${id}/resume)`);
    // Still waiting a while later: PAUSED is not an end.
    await sleep(1500);
    expect(exited).toBe(false);
    expect(waiting.out.filter((line) => line === pausedLine(id))).toHaveLength(1);

    const report = join(scratch, 'review.txt');
    writeFileSync(report, 'looks good');
    const resumed = await run('resume', id, '--input', 'count=5', '--input', `report=@${report}`);
    expect(resumed).toEqual({ code: 0, stdout: `execution ${id} resumed (RESTARTED)`, stderr: '' });
    const uri = `kestra:///cli/pause/approval/executions/${id}/inputs/report/review.txt`;
    const file = await api!.fetch(`/api/v1/executions/${id}/file?path=${encodeURIComponent(uri)}`);
    expect(await file.text()).toBe('looks good');

    await until('the resumed line', () => waiting.out.includes(`execution ${id} resumed (RESTARTED)`));
    // What the scheduler does next.
    await api!.db.executions.transition(id, ['RESTARTED'], 'RUNNING');
    await api!.db.executions.transition(id, ['RUNNING'], 'SUCCESS');
    const result = await waiting.done;
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`execution ${id} created (CREATED)`);
    expect(lines.indexOf(pausedLine(id))).toBeLessThan(lines.indexOf(`execution ${id} resumed (RESTARTED)`));
    expect(lines.at(-2)).toMatch(new RegExp(`^execution ${id} SUCCESS in \\d+\\.\\d s$`));
    expect(lines.at(-1)).toBe(`  approve.onResume = {"count":5,"report":"${uri}"}`);
    expect(result.stderr).toBe('');
  }, 30_000);

  it('with --output json, the PAUSED line goes to stderr and stdout holds only the final execution', async () => {
    const waiting = start('execute', 'cli.pause', 'approval', '--wait', '--output', 'json');
    const id = await nextExecutionId();
    await pauseAtApprove(id);
    await until('the PAUSED line', () => waiting.err.includes(pausedLine(id)));
    expect(waiting.out).toEqual([]);
    await api!.db.executions.transition(id, ['PAUSED'], 'KILLED');
    const result = await waiting.done;
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ id, state: { current: 'KILLED' } });
    expect(result.stderr).toBe(pausedLine(id));
  }, 30_000);

  it('sluice resume exits 1 with the API error: unknown execution, not PAUSED, invalid inputs (each named); 2 on usage errors', async () => {
    expect(await run('resume', 'nope')).toEqual({ code: 1, stdout: '', stderr: 'sluice: SLU_API_EXECUTION_NOT_FOUND: execution nope not found' });

    const created = (await (await api!.fetch('/api/v1/executions/cli.pause/approval', { method: 'POST' })).json()) as { id: string };
    expect(await run('resume', created.id)).toEqual({
      code: 1,
      stdout: '',
      stderr: `sluice: SLU_API_EXECUTION_NOT_PAUSED: execution ${created.id} is CREATED: only a PAUSED execution can be resumed`,
    });

    await pauseAtApprove(created.id);
    const invalid = await run('resume', created.id, '--input', 'count=many', '--input', 'colour=red');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr.split('\n')[0]).toMatch(/^sluice: SLU_INPUT_INVALID: invalid inputs: /);
    expect(invalid.stderr).toContain('\n  count: ');
    expect(invalid.stderr).toContain('\n  colour: ');
    expect(await stateOf(created.id)).toBe('PAUSED');

    expect(await run('resume')).toEqual({ code: 2, stdout: '', stderr: 'sluice: resume needs exactly one EXECUTION_ID (see sluice --help)' });
    expect((await run('resume', 'a', 'b')).code).toBe(2);
    expect((await run('resume', created.id, '--input', 'count')).code).toBe(2);
    expect((await run('resume', created.id, '--input', 'report=@/nope/missing.txt')).stderr).toBe('sluice: no such file or directory: /nope/missing.txt');
    expect(await stateOf(created.id)).toBe('PAUSED');
  });
});

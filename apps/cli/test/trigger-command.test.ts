/**
 * `sluice trigger list|disable|enable` against a real API over Postgres: the lines printed, the flag stored, the
 * usage errors (exit 2), an unknown trigger (exit 1, the API's code and message on one line) and an unreachable
 * server (exit 2).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.js';
import type { CliEnv } from '../src/main.js';
import { startApi } from './api-fixture.js';

const TOKEN = 'cli-trigger-token';
const api = await startApi({ apiToken: TOKEN });
const env: CliEnv = api ? { SLUICE_SERVER_URL: api.url, SLUICE_API_TOKEN: TOKEN } : {};
afterAll(async () => api?.close());

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(runEnv: CliEnv, ...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) }, runEnv);
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

const NS = 'cli.triggers';
const FLOW = `id: nightly
namespace: ${NS}
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: every-day
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 2 * * *"
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: cli-webhook-key-0123456789
  - id: off
    type: io.kestra.plugin.core.trigger.Webhook
    key: another-key-0123456789
    disabled: true
`;

describe.skipIf(!api)('sluice trigger', () => {
  it('disable and enable one trigger; list shows it, with the triggers the scheduler made rows for', async () => {
    const saved = await api!.fetch('/api/v1/flows', { method: 'POST', headers: { 'content-type': 'application/x-yaml' }, body: FLOW });
    expect(saved.status).toBe(200);
    // The scheduler makes the rows of a flow's triggers; without one here, they are made as the scheduler would.
    await api!.db.scheduler.syncTriggers([
      { namespace: NS, flowId: 'nightly', triggerId: 'every-day', firstFireDate: new Date('2030-01-01T02:00:00Z') },
      { namespace: NS, flowId: 'nightly', triggerId: 'off', firstFireDate: null },
    ]);

    expect(await run(env, 'trigger', 'disable', NS, 'nightly', 'hook')).toEqual({ code: 0, stdout: `${NS}.nightly/hook disabled`, stderr: '' });
    const listed = await run(env, 'trigger', 'list', '--namespace', 'cli');
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')).toEqual([
      `${NS}.nightly/every-day  Schedule  enabled  next 2030-01-01T02:00:00.000Z  last -`,
      `${NS}.nightly/hook  Webhook  disabled  next -  last -`,
      `${NS}.nightly/off  Webhook  disabled (in the flow)  next -  last -`,
    ]);
    expect((await api!.db.triggers.get({ namespace: NS, flowId: 'nightly', triggerId: 'hook' }))?.disabled).toBe(true);

    expect(await run(env, 'trigger', 'enable', NS, 'nightly', 'hook')).toEqual({ code: 0, stdout: `${NS}.nightly/hook enabled`, stderr: '' });
    const json = await run(env, 'trigger', 'list', '--namespace', NS, '--flow', 'nightly', '--output', 'json');
    const results = JSON.parse(json.stdout) as { triggerContext: { triggerId: string; disabled: boolean } }[];
    expect(results.map((r) => [r.triggerContext.triggerId, r.triggerContext.disabled])).toEqual([
      ['every-day', false],
      ['hook', false],
      ['off', false],
    ]);
    expect(await run(env, 'trigger', 'list', '--namespace', 'cli.none')).toEqual({ code: 0, stdout: '', stderr: 'no triggers' });
  });

  it('an unknown trigger is exit 1 with the API error on one line', async () => {
    const result = await run(env, 'trigger', 'disable', NS, 'nightly', 'nope');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.split('\n')[0]).toBe(`sluice: SLU_API_TRIGGER_NOT_FOUND: flow ${NS}.nightly has no trigger nope`);
  });

  it('usage errors are exit 2, naming the problem', async () => {
    const cases: [string[], RegExp][] = [
      [['trigger'], /trigger needs a subcommand: list, disable or enable/],
      [['trigger', 'pause'], /unknown trigger subcommand "pause"/],
      [['trigger', 'disable', NS, 'nightly'], /trigger disable needs exactly NAMESPACE, FLOW_ID and TRIGGER_ID/],
      [['trigger', 'enable', NS, 'nightly', 'hook', 'extra'], /trigger enable needs exactly/],
      [['trigger', 'list', 'extra'], /trigger list takes no arguments/],
      [['trigger', 'list', '--flow', 'x'], /--flow needs --namespace NS/],
      [['trigger', 'list', '--output', 'yaml'], /--output must be text or json/],
      [['trigger', 'list', '--nope'], /Unknown option '--nope'/],
    ];
    for (const [argv, pattern] of cases) {
      const result = await run(env, ...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr, argv.join(' ')).toMatch(pattern);
    }
  });

  it('--help shows each command\'s help; an unreachable server is exit 2; a wrong token exit 1', async () => {
    for (const command of ['list', 'disable', 'enable']) {
      const help = await run(env, 'trigger', command, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: sluice trigger ${command}`);
    }
    expect((await run(env, 'trigger', '--help')).stdout).toContain('sluice trigger list');
    const down = await run({ SLUICE_SERVER_URL: 'http://127.0.0.1:1' }, 'trigger', 'list');
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(/^sluice: /);
    const wrong = await run({ SLUICE_SERVER_URL: api!.url, SLUICE_API_TOKEN: 'wrong' }, 'trigger', 'disable', NS, 'nightly', 'hook');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/SLU_API_UNAUTHORIZED/);
  });
});

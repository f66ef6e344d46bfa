import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { main, VERSION } from '../src/main.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const examples = join(root, 'examples');

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) });
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

function tempFlows(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
  return dir;
}

const invalid = `id: flow
namespace: dev
tasks:
  - id: run
    type: io.kestra.plugin.scripts.python.Commands
    commands: [python x.py]
    runner: DOCKERS
`;

describe('sluice flow validate', () => {
  it('exits 0 on the examples and says how many flows are valid', async () => {
    const result = await run('flow', 'validate', examples);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^\d+ flows valid$/);
  });

  it('prints FILE:LINE:COL: message and exits 1 when a flow is invalid', async () => {
    const dir = tempFlows({ 'bad.yml': invalid, 'good.yaml': 'id: ok\nnamespace: dev\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n', 'notes.txt': 'ignored' });
    const result = await run('flow', 'validate', dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      `${join(dir, 'bad.yml')}:7:13: tasks[0].runner: must be one of DOCKER, PROCESS, got "DOCKERS" [SLU_FLOW_INVALID_ENUM]`,
    );
    expect(result.stderr).toBe('1 of 2 flows invalid (1 problem)');
  });

  it('prints a machine-readable list with --format json', async () => {
    const dir = tempFlows({ 'bad.yml': invalid });
    const result = await run('flow', 'validate', '--format', 'json', join(dir, 'bad.yml'));
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual([
      {
        file: join(dir, 'bad.yml'),
        document: 0,
        line: 7,
        column: 13,
        path: 'tasks[0].runner',
        code: 'SLU_FLOW_INVALID_ENUM',
        message: 'must be one of DOCKER, PROCESS, got "DOCKERS"',
      },
    ]);
    const valid = await run('flow', 'validate', '--format=json', join(examples, 'seed'));
    expect(valid.code).toBe(0);
    expect(JSON.parse(valid.stdout)).toEqual([]);
  });

  it('shows a deprecation warning (an input\'s legacy name key) without making the flow invalid', async () => {
    const dir = tempFlows({ 'legacy.yml': 'id: a\nnamespace: dev\ninputs:\n  - name: who\n    type: STRING\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    message: hi {{ inputs.who }}\n' });
    const result = await run('flow', 'validate', dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/legacy\.yml:4:\d+: inputs\[0\]\.name: .*\[SLU_FLOW_DEPRECATED\] \(warning\)/);
    expect(result.stderr).toBe('1 flow valid');
  });

  it('validates every document of a multi-document file', async () => {
    const dir = tempFlows({ 'two.yml': `id: a\nnamespace: dev\ntasks:\n  - id: x\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n---\n${invalid}` });
    const result = await run('flow', 'validate', dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('two.yml:14:13: tasks[0].runner');
    expect(result.stderr).toBe('1 of 2 flows invalid (1 problem)');
  });

  it('gives one readable line and exit code 2 for usage errors and missing files', async () => {
    expect(await run('flow', 'validate')).toEqual({ code: 2, stdout: '', stderr: 'sluice: flow validate needs at least one FILE_OR_DIR (see sluice --help)' });
    expect(await run('flow', 'validate', '/nope/missing.yml')).toEqual({ code: 2, stdout: '', stderr: 'sluice: no such file or directory: /nope/missing.yml' });
    expect((await run('flow', 'validate', '--format', 'xml', examples)).stderr).toBe('sluice: --format must be text or json, got "xml" (see sluice --help)');
    expect((await run('flow', 'validate', '--bogus', examples)).stderr).toMatch(/^sluice: Unknown option '--bogus'/);
    expect((await run('frobnicate')).stderr).toBe('sluice: unknown command "frobnicate" (see sluice --help)');
    expect((await run('flow')).stderr).toBe('sluice: flow needs a subcommand: validate or deploy (see sluice --help)');
    expect((await run('flow', 'explode')).code).toBe(2);
    // A server mode refuses the flags of the other modes instead of ignoring them.
    expect(await run('server', 'scheduler', '--port', '9')).toEqual({ code: 2, stdout: '', stderr: 'sluice: server scheduler does not take --port (it takes no flags) (see sluice --help)' });
    expect((await run('server', 'api', '--worker-group', 'gpu', '--data-dir', 'x')).stderr).toBe(
      'sluice: server api does not take --worker-group, --data-dir (it takes --port) (see sluice --help)',
    );
    expect((await run('server', 'worker', '--port', '1')).stderr).toBe('sluice: server worker does not take --port (it takes --worker-group, --concurrency) (see sluice --help)');
    const empty = tempFlows({ 'readme.md': '# nothing' });
    expect((await run('flow', 'validate', empty)).stderr).toBe(`sluice: no flow files (*.yml, *.yaml) found in ${empty}`);
  });

  it('prints help and version', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('sluice flow validate FILE_OR_DIR...');
    expect((await run()).code).toBe(2);
    expect(await run('--version')).toEqual({ code: 0, stdout: VERSION, stderr: '' });
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('the sluice binary', () => {
  const exec = promisify(execFile);
  const bin = join(root, 'node_modules', '.bin', 'sluice');

  it('runs from the workspace without a build (npx sluice)', async () => {
    const { stdout } = await exec(bin, ['--version'], { cwd: root });
    expect(stdout.trim()).toBe(VERSION);
  });

  it('exits 1 with the problem on stdout for an invalid flow', async () => {
    const dir = tempFlows({ 'bad.yml': invalid });
    const error = await exec(bin, ['flow', 'validate', dir], { cwd: root }).then(
      () => undefined,
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(error?.code).toBe(1);
    expect(error?.stdout).toContain('bad.yml:7:13: tasks[0].runner: must be one of DOCKER, PROCESS');
  });
});

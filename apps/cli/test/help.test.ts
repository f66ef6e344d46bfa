import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../src/main.js';

// `--help` must not load a command module (nor Prisma, Fastify, BullMQ... behind them): each one records its loading.
const loaded = vi.hoisted(() => [] as string[]);
vi.mock('../src/commands/flow-validate.js', () => (loaded.push('flow-validate'), {}));
vi.mock('../src/commands/flow-deploy.js', () => (loaded.push('flow-deploy'), {}));
vi.mock('../src/commands/execute.js', () => (loaded.push('execute'), {}));
vi.mock('../src/commands/run.js', () => (loaded.push('run'), {}));
vi.mock('../src/commands/server.js', () => (loaded.push('server'), {}));
vi.mock('../src/commands/db-migrate.js', () => (loaded.push('db-migrate'), {}));

const root = fileURLToPath(new URL('../../../', import.meta.url));

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t) }, {});
  return { code, stdout: out.join('\n'), stderr: err.join('\n') };
}

interface Listed {
  /** The command's words, e.g. `flow validate`. */
  readonly name: string;
  /** Every --flag named in its entry of the top-level help (synopsis and description). */
  readonly flags: readonly string[];
}

/** The commands of the Usage section of `sluice --help`: its `  sluice WORD...` lines, with the flags of each entry. */
function listedCommands(help: string): Listed[] {
  const lines = help.split('\n');
  const start = lines.indexOf('Usage:');
  expect(start).toBeGreaterThanOrEqual(0);
  const section: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    section.push(line);
  }
  const commands: Listed[] = [];
  let current: { name: string; text: string[] } | undefined;
  const flush = (): void => {
    if (current) commands.push({ name: current.name, flags: [...new Set(current.text.join(' ').match(/--[a-z][a-z-]*/g) ?? [])] });
    current = undefined;
  };
  for (const line of section) {
    if (line.startsWith('  sluice ')) {
      flush();
      const words = line.slice('  sluice '.length).split(/\s+/);
      const name: string[] = [];
      for (const word of words) {
        if (!/^[a-z][a-z-]*$/.test(word)) break;
        name.push(word);
      }
      // `sluice --help | -h`, `sluice --version | -v`: options of sluice itself, not commands.
      if (name.length > 0) current = { name: name.join(' '), text: [line] };
    } else {
      current?.text.push(line);
    }
  }
  flush();
  return commands;
}

describe('sluice COMMAND --help', async () => {
  const top = await run('--help');
  const commands = listedCommands(top.stdout);

  it('lists the commands of the top-level help and points to their own help', () => {
    expect(top.code).toBe(0);
    expect(commands.map((c) => c.name)).toEqual(
      expect.arrayContaining(['flow validate', 'flow deploy', 'execute', 'run', 'server local', 'server api', 'server scheduler', 'server worker', 'db migrate']),
    );
    expect(commands.find((c) => c.name === 'execute')?.flags).toEqual(expect.arrayContaining(['--input', '--label', '--wait', '--output', '--server']));
    expect(top.stdout).toContain('Run `sluice COMMAND --help`');
  });

  it.each(commands.flatMap((command) => ['--help', '-h'].map((flag) => [command.name, flag, command] as const)))(
    'sluice %s %s prints its usage, flags and an example',
    async (name, flag, command) => {
      const result = await run(...name.split(' '), flag);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage:');
      expect(result.stdout).toContain(`sluice ${name}`);
      expect(result.stdout).toContain('Example');
      expect(result.stdout).not.toContain('Usage:\n  sluice flow validate'); // its own help, not the top-level one
      for (const option of command.flags) expect(result.stdout, `${name} --help names ${option}`).toContain(option);
      expect(result.stdout).toMatch(/--help/);
    },
  );

  it('prints the same help for `sluice help COMMAND`', async () => {
    for (const { name } of commands) {
      expect(await run('help', ...name.split(' '))).toEqual(await run(...name.split(' '), '--help'));
    }
    expect(await run('help')).toEqual({ ...top, code: 0 });
    expect(await run('help', 'frobnicate')).toEqual({ code: 2, stdout: '', stderr: 'sluice: unknown command "frobnicate" (see sluice --help)' });
  });

  it('answers --help anywhere among the arguments, instead of running the command', async () => {
    const help = await run('run', '--help');
    for (const argv of [
      ['run', 'flow.yml', '--help'],
      ['run', 'flow.yml', '-h'],
      ['run', '--input', 'a=1', 'flow.yml', '--help', '--output', 'json'],
      ['run', '--output', 'xml', '--help'],
      ['run', '--bogus', '--help'],
    ]) {
      expect(await run(...argv), argv.join(' ')).toEqual(help);
    }
    expect(help.stdout).toContain('Usage: sluice run FLOW.yml');
    expect((await run('flow', 'validate', 'flows/', '--format', 'json', '-h')).stdout).toContain('Usage: sluice flow validate');
    expect((await run('server', 'worker', '--concurrency', '2', '--help')).stdout).toContain('Usage: sluice server worker');
    expect((await run('db', 'migrate', '--database-url', 'postgres://x/y', '-h')).stdout).toContain('Usage: sluice db migrate');
  });

  it.each([
    ['flow', ['flow validate', 'flow deploy']],
    ['server', ['server local', 'server api', 'server scheduler', 'server worker']],
    ['db', ['db migrate']],
  ])('sluice %s --help lists its subcommands', async (group, subcommands) => {
    for (const flag of ['--help', '-h', 'help']) {
      const result = await run(group, flag);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toContain(`Usage: sluice ${group}`);
      expect(result.stdout).toContain('Example');
      for (const subcommand of subcommands) expect(result.stdout).toContain(`sluice ${subcommand}`);
    }
    expect(await run('help', group)).toEqual(await run(group, '--help'));
  });

  it('still fails with one readable line for unknown options and a bare group', async () => {
    expect(await run('run', 'flow.yml', '--bogus')).toEqual({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/^sluice: Unknown option '--bogus'.*\(see sluice --help\)$/),
    });
    expect((await run('server', 'api', '--nope')).stderr).toMatch(/^sluice: Unknown option '--nope'/);
    expect((await run('run', 'flow.yml', '--input', '-h')).code).toBe(2); // -h as --input's value is not a help request
    expect(await run('server')).toEqual({ code: 2, stdout: '', stderr: 'sluice: server needs a mode: local, api, scheduler or worker (see sluice --help)' });
    expect((await run('db', 'rollback')).code).toBe(2);
    expect((await run()).code).toBe(2);
  });

  it('loads no command module to print a help', () => {
    expect(loaded).toEqual([]);
  });
});

describe('the sluice launcher', () => {
  it('prints `run --help` and exits 0', async () => {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['apps/cli/bin/sluice.mjs', 'run', '--help'], { cwd: root });
    expect(stdout).toContain('Usage: sluice run FLOW.yml');
    expect(stdout).toContain('Example:');
    expect(stderr).toBe('');
  });
});

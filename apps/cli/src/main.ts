import { parseArgs } from 'node:util';
import { SluiceError } from '@sluice/core';
import { serverOptions } from './api-client.js';
import { COMMAND_HELP, GROUP_HELP, HELP } from './help.js';
import type { CliIO } from './io.js';
import { processIO } from './io.js';
import { VERSION } from './version.js';

export { VERSION };
export type { CliIO };

/** The environment variables the CLI reads (DESIGN.md §5b), read once here. */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** Run the CLI with `argv` (without `node` and the script); returns the exit code. */
export async function main(argv: readonly string[], io: CliIO = processIO, env: CliEnv = process.env): Promise<number> {
  try {
    return await dispatch(argv, io, env);
  } catch (error) {
    if (error instanceof HelpRequest) {
      io.stdout(error.text);
      return 0;
    }
    if (error instanceof SluiceError) {
      io.stderr(`sluice: ${error.message}${error.code === 'SLU_CLI_USAGE' ? ' (see sluice --help)' : ''}`);
      return 2;
    }
    throw error;
  }
}

async function dispatch(argv: readonly string[], io: CliIO, env: CliEnv): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    io.stdout(HELP);
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    io.stdout(VERSION);
    return 0;
  }
  if (first === 'help') return help(argv.slice(1), io);
  // `sluice flow --help`, `sluice server -h`: the group's subcommands (a subcommand's own --help is handled by parseOptions).
  if (isGroup(first) && !isCommand(`${first} ${second ?? ''}`) && (second === 'help' || argv.slice(1).some((arg) => arg === '--help' || arg === '-h'))) {
    io.stdout(GROUP_HELP[first]!);
    return 0;
  }
  if (first === 'flow' && second === 'validate') {
    const { values, positionals } = parseOptions('flow validate', argv.slice(2), { format: { type: 'string', default: 'text' } });
    const format = values.format;
    if (format !== 'text' && format !== 'json') throw usage(`--format must be text or json, got "${String(format)}"`);
    if (positionals.length === 0) throw usage('flow validate needs at least one FILE_OR_DIR');
    const { flowValidateCommand } = await import('./commands/flow-validate.js');
    return flowValidateCommand(positionals, { format }, io);
  }
  if (first === 'flow' && second === 'deploy') {
    const { values, positionals } = parseOptions('flow deploy', argv.slice(2), { namespace: { type: 'string' }, delete: { type: 'boolean' }, server: { type: 'string' } });
    if (positionals.length === 0) throw usage('flow deploy needs at least one DIR_OR_FILE');
    const { namespace, delete: deleteMissing = false } = values;
    if (deleteMissing && namespace === undefined) throw usage('--delete needs --namespace NS');
    const { flowDeployCommand } = await import('./commands/flow-deploy.js');
    return flowDeployCommand(positionals, { server: serverOptions(values.server, env), ...(namespace === undefined ? {} : { namespace }), deleteMissing }, io);
  }
  if (first === 'execute') {
    const { values, positionals } = parseOptions('execute', argv.slice(1), {
      input: { type: 'string', multiple: true },
      label: { type: 'string', multiple: true },
      wait: { type: 'boolean' },
      output: { type: 'string', default: 'text' },
      server: { type: 'string' },
    });
    const [namespace, flowId, ...rest] = positionals;
    if (namespace === undefined || flowId === undefined || rest.length > 0) throw usage('execute needs exactly NAMESPACE and FLOW_ID');
    const { output, input = [], label = [], wait = false } = values;
    if (output !== 'text' && output !== 'json') throw usage(`--output must be text or json, got "${output}"`);
    const { executeCommand } = await import('./commands/execute.js');
    return executeCommand({ server: serverOptions(values.server, env), namespace, flowId, inputs: input, labels: label, wait, output }, io);
  }
  if (first === 'resume') {
    const { values, positionals } = parseOptions('resume', argv.slice(1), { input: { type: 'string', multiple: true }, server: { type: 'string' } });
    const [executionId, ...rest] = positionals;
    if (executionId === undefined || rest.length > 0) throw usage('resume needs exactly one EXECUTION_ID');
    const { resumeCommand } = await import('./commands/execute.js');
    return resumeCommand({ server: serverOptions(values.server, env), executionId, inputs: values.input ?? [] }, io);
  }
  if (first === 'trigger' && second === 'list') {
    const { values, positionals } = parseOptions('trigger list', argv.slice(2), {
      namespace: { type: 'string' },
      flow: { type: 'string' },
      output: { type: 'string', default: 'text' },
      server: { type: 'string' },
    });
    if (positionals.length > 0) throw usage(`trigger list takes no arguments, got "${positionals.join(' ')}" (filter with --namespace NS and --flow FLOW_ID)`);
    const { output, namespace, flow } = values;
    if (output !== 'text' && output !== 'json') throw usage(`--output must be text or json, got "${String(output)}"`);
    if (flow !== undefined && namespace === undefined) throw usage('--flow needs --namespace NS');
    const { triggerListCommand } = await import('./commands/trigger.js');
    return triggerListCommand({ server: serverOptions(values.server, env), output, ...(namespace === undefined ? {} : { namespace }), ...(flow === undefined ? {} : { flowId: flow }) }, io);
  }
  if (first === 'trigger' && (second === 'disable' || second === 'enable')) {
    const { values, positionals } = parseOptions(`trigger ${second}`, argv.slice(2), { server: { type: 'string' } });
    const [namespace, flowId, triggerId, ...rest] = positionals;
    if (namespace === undefined || flowId === undefined || triggerId === undefined || rest.length > 0) {
      throw usage(`trigger ${second} needs exactly NAMESPACE, FLOW_ID and TRIGGER_ID`);
    }
    const { triggerSetCommand } = await import('./commands/trigger.js');
    return triggerSetCommand({ server: serverOptions(values.server, env), namespace, flowId, triggerId, disabled: second === 'disable' }, io);
  }
  if (first === 'server') {
    if (!isCommand(`server ${second ?? ''}`)) {
      throw usage(second === undefined ? 'server needs a mode: local, api, scheduler or worker' : `unknown server mode "${second}" (local, api, scheduler or worker)`);
    }
    const { values, positionals } = parseOptions(`server ${second}`, argv.slice(2), {
      port: { type: 'string' },
      host: { type: 'string' },
      'worker-group': { type: 'string' },
      concurrency: { type: 'string' },
      'data-dir': { type: 'string' },
    });
    if (positionals.length > 0) throw usage(`server ${second ?? ''} takes no arguments, got "${positionals.join(' ')}"`);
    // One option table serves every mode; a flag the mode does not use is refused, never silently ignored.
    const accepted = SERVER_MODE_FLAGS[second ?? ''] ?? [];
    const stray = Object.keys(values).filter((flag) => !accepted.includes(flag));
    if (stray.length > 0) {
      throw usage(`server ${second ?? ''} does not take --${stray.join(', --')}${accepted.length > 0 ? ` (it takes --${accepted.join(', --')})` : ' (it takes no flags)'}`);
    }
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw usage(`--port must be a port number, got "${String(values.port)}"`);
    const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)) {
      throw usage(`--concurrency must be an integer from 1 to 256, got "${String(values.concurrency)}"`);
    }
    const group = typeof values['worker-group'] === 'string' ? values['worker-group'] : undefined;
    // Loaded on demand: `flow validate` must not pay for the servers' dependencies at start-up.
    const { serverApiCommand, serverLocalCommand, serverSchedulerCommand, serverWorkerCommand } = await import('./commands/server.js');
    if (second === 'local') {
      return serverLocalCommand(
        {
          ...(port === undefined ? {} : { port }),
          ...(typeof values.host === 'string' ? { host: values.host } : {}),
          ...(group === undefined ? {} : { workerGroup: group }),
          ...(concurrency === undefined ? {} : { concurrency }),
          ...(typeof values['data-dir'] === 'string' ? { dataDir: values['data-dir'] } : {}),
        },
        env,
        io,
      );
    }
    if (second === 'api') return serverApiCommand(port === undefined ? {} : { port }, env, io);
    if (second === 'scheduler') return serverSchedulerCommand(env, io);
    if (second === 'worker') {
      return serverWorkerCommand({ ...(group === undefined ? {} : { group }), ...(values.concurrency === undefined ? {} : { concurrency: String(values.concurrency) }) }, env, io);
    }
    throw new Error(`unhandled server mode "${second}"`); // unreachable: isCommand checked it
  }
  if (first === 'run') {
    const { values, positionals } = parseOptions('run', argv.slice(1), {
      input: { type: 'string', multiple: true },
      output: { type: 'string', default: 'text' },
      'resume-after': { type: 'string' },
    } as OptionSpec);
    if (positionals.length !== 1) throw usage('run needs exactly one FLOW file');
    const output = values.output;
    if (output !== 'text' && output !== 'json') throw usage(`--output must be text or json, got "${String(output)}"`);
    const inputs = (values.input as string[] | undefined) ?? [];
    let resumeAfterMs: number | undefined;
    if (typeof values['resume-after'] === 'string') {
      const { parseDuration } = await import('@sluice/core');
      try {
        resumeAfterMs = parseDuration(values['resume-after']);
      } catch {
        throw usage(`--resume-after must be an ISO-8601 duration such as PT10S, got "${values['resume-after']}"`);
      }
    }
    const ask = process.stdin.isTTY ? await terminalQuestion() : undefined;
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once('SIGINT', onSignal);
    try {
      const { runCommand } = await import('./commands/run.js');
      return await runCommand({ file: positionals[0]!, inputs, output, signal: controller.signal, ...(resumeAfterMs !== undefined ? { resumeAfterMs } : {}), ...(ask ? { ask } : {}) }, env, io);
    } finally {
      process.off('SIGINT', onSignal);
    }
  }
  if (first === 'db' && second === 'migrate') {
    const { values, positionals } = parseOptions('db migrate', argv.slice(2), { 'database-url': { type: 'string' } });
    if (positionals.length > 0) throw usage(`db migrate takes no arguments, got "${positionals.join(' ')}"`);
    const flag = values['database-url'];
    const databaseUrl = typeof flag === 'string' ? flag : env.DATABASE_URL;
    if (!databaseUrl) throw usage('db migrate needs a database: pass --database-url URL or set DATABASE_URL');
    const { dbMigrateCommand } = await import('./commands/db-migrate.js'); // Prisma and pg: only for this command
    return dbMigrateCommand({ databaseUrl }, io);
  }
  if (first === 'db') throw usage(second === undefined ? 'db needs a subcommand: migrate' : `unknown db subcommand "${second}"`);
  if (first === 'flow') throw usage(second === undefined ? 'flow needs a subcommand: validate or deploy' : `unknown flow subcommand "${second}"`);
  if (first === 'trigger') throw usage(second === undefined ? 'trigger needs a subcommand: list, disable or enable' : `unknown trigger subcommand "${second}" (list, disable or enable)`);
  throw usage(`unknown command "${first}"`);
}

/** The flags each `server` mode uses (see its --help). */
const SERVER_MODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  local: ['port', 'host', 'worker-group', 'concurrency', 'data-dir'],
  api: ['port'],
  scheduler: [],
  worker: ['worker-group', 'concurrency'],
};

type OptionSpec = Record<string, { type: 'string' | 'boolean'; default?: string | boolean; short?: string; multiple?: boolean }>;

/** Thrown by parseOptions when a command's arguments ask for its help: main prints `text` and exits 0. */
class HelpRequest extends Error {
  constructor(readonly text: string) {
    super('help requested');
  }
}

function isCommand(name: string): boolean {
  return Object.hasOwn(COMMAND_HELP, name);
}

function isGroup(name: string | undefined): name is string {
  return name !== undefined && Object.hasOwn(GROUP_HELP, name);
}

/** `sluice help [COMMAND]`: the same text as `sluice [COMMAND] --help`. */
function help(words: readonly string[], io: CliIO): number {
  const name = words.join(' ');
  const text = words.length === 0 ? HELP : isCommand(name) ? COMMAND_HELP[name] : words.length === 1 && isGroup(name) ? GROUP_HELP[name] : undefined;
  if (text === undefined) throw usage(`unknown command "${name}"`);
  io.stdout(text);
  return 0;
}

/**
 * The options and positionals of `command`; `--help` or `-h` anywhere among them (before `--`) throws a HelpRequest
 * with the command's help, even next to an unknown option.
 */
function parseOptions<T extends OptionSpec>(command: string, args: string[], options: T): ReturnType<typeof parseArgs<{ options: T; allowPositionals: true }>> {
  const withHelp: OptionSpec = { ...options, help: { type: 'boolean', short: 'h' } };
  const asksHelp = (): boolean =>
    parseArgs({ args, options: withHelp, allowPositionals: true, strict: false, tokens: true }).tokens.some((token) => token.kind === 'option' && token.name === 'help');
  let parsed: ReturnType<typeof parseArgs<{ options: T; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args, options: withHelp as T, allowPositionals: true, strict: true });
  } catch (error) {
    if (asksHelp()) throw new HelpRequest(COMMAND_HELP[command]!);
    throw usage(error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error));
  }
  if (asksHelp()) throw new HelpRequest(COMMAND_HELP[command]!);
  return parsed;
}

function usage(reason: string): SluiceError {
  return new SluiceError('SLU_CLI_USAGE', { reason });
}

/** One line read from the terminal per question (a PAUSED `sluice run` asks to resume); undefined once stdin closed. */
async function terminalQuestion(): Promise<(question: string) => Promise<string | undefined>> {
  const { createInterface } = await import('node:readline/promises');
  return async (question) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(question);
    } catch {
      return undefined;
    } finally {
      rl.close();
    }
  };
}

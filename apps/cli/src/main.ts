import { parseArgs } from 'node:util';
import { SluiceError } from '@sluice/core';
import { serverOptions } from './api-client.js';
import { dbMigrateCommand } from './commands/db-migrate.js';
import { executeCommand } from './commands/execute.js';
import { flowDeployCommand } from './commands/flow-deploy.js';
import { flowValidateCommand } from './commands/flow-validate.js';
import type { CliIO } from './io.js';
import { processIO } from './io.js';
import { VERSION } from './version.js';

export { VERSION };
export type { CliIO };

const HELP = `sluice ${VERSION}: run Kestra-style YAML flows

Usage:
  sluice flow validate FILE_OR_DIR... [--format text|json]
      Validate flow files (a directory is searched for *.yml and *.yaml).
      Prints each problem as FILE:LINE:COL: message; exits 1 if any flow is invalid.
  sluice flow deploy DIR_OR_FILE... [--namespace NS [--delete]] [--server URL]
      Validate the flows, then create or update each on the server ("NS.ID: revision 3 (updated)"); nothing is
      deployed if one is invalid. --namespace NS deploys them as namespace NS in one request (every flow must be in
      NS); --delete also deletes the flows of NS that are not in the files.
  sluice execute NAMESPACE FLOW_ID [--input KEY=VALUE]... [--input KEY=@FILE]... [--label KEY=VALUE]...
                 [--wait] [--output text|json] [--server URL]
      Start an execution and print its id. --wait follows it to its end, printing its log, then its state and task
      outputs (exit 0 on SUCCESS or WARNING, 1 otherwise; Ctrl-C stops waiting, exit 130, without killing it).
      --output json prints the execution as JSON (with --wait: the final one only).
  sluice run FLOW.yml [--input KEY=VALUE]... [--input KEY=@FILE]... [--output text|json]
      Run one flow here and now, with no server: streams its log with task ids and a progress line per task, then
      prints its state and task outputs (exit 0 on SUCCESS or WARNING, 1 otherwise; Ctrl-C kills the run).
  sluice server local [--port 8080] [--host 127.0.0.1] [--worker-group KEY] [--concurrency N] [--data-dir .sluice]
      API + scheduler + worker in one process. Postgres: $DATABASE_URL, else an embedded one under the data dir;
      queue: in-process, or BullMQ when $REDIS_URL is set. Its worker serves every worker group unless
      --worker-group narrows it. Prints its URL; stops on Ctrl-C.
  sluice server api [--port 8080]        The REST API ($DATABASE_URL, $REDIS_URL; see docs/remote-workers.md).
  sluice server scheduler                The scheduler ($DATABASE_URL, $REDIS_URL); several may run at once.
  sluice server worker [--worker-group KEY] [--concurrency N]
      A worker of one group (default "default"). Needs only $REDIS_URL, $SLUICE_API_URL and $SLUICE_WORKER_TOKEN.
  sluice db migrate [--database-url URL]
      Apply pending migrations (prisma/migrations) to the database at URL (default: $DATABASE_URL).
      Prints each applied migration, or "database is up to date"; exits 1 if a migration was changed or failed.
  sluice --help | -h       Show this help.
  sluice --version | -v    Print the version.

Client commands (flow deploy, execute) talk to the server at --server URL, else $SLUICE_SERVER_URL, else
http://localhost:8080, with $SLUICE_API_TOKEN (if set) as a bearer token.

Exit codes: 0 success, 1 invalid flows, a failed migration, an API error or a failed execution, 2 usage error,
unreadable file, unreachable database or server, 130 interrupted.
Docs: docs/errors.md lists every error code.`;

/** The environment variables the CLI reads (DESIGN.md §5b), read once here. */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** Run the CLI with `argv` (without `node` and the script); returns the exit code. */
export async function main(argv: readonly string[], io: CliIO = processIO, env: CliEnv = process.env): Promise<number> {
  try {
    return await dispatch(argv, io, env);
  } catch (error) {
    if (error instanceof SluiceError) {
      io.stderr(`sluice: ${error.message}${error.code === 'SLU_CLI_USAGE' ? ' (see sluice --help)' : ''}`);
      return 2;
    }
    throw error;
  }
}

async function dispatch(argv: readonly string[], io: CliIO, env: CliEnv): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.stdout(HELP);
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v' || first === 'version') {
    io.stdout(VERSION);
    return 0;
  }
  if (first === 'flow' && second === 'validate') {
    const { values, positionals } = parseOptions(argv.slice(2), { format: { type: 'string', default: 'text' } });
    const format = values.format;
    if (format !== 'text' && format !== 'json') throw usage(`--format must be text or json, got "${String(format)}"`);
    if (positionals.length === 0) throw usage('flow validate needs at least one FILE_OR_DIR');
    return flowValidateCommand(positionals, { format }, io);
  }
  if (first === 'flow' && second === 'deploy') {
    const { values, positionals } = parseOptions(argv.slice(2), { namespace: { type: 'string' }, delete: { type: 'boolean' }, server: { type: 'string' } });
    if (positionals.length === 0) throw usage('flow deploy needs at least one DIR_OR_FILE');
    const { namespace, delete: deleteMissing = false } = values;
    if (deleteMissing && namespace === undefined) throw usage('--delete needs --namespace NS');
    return flowDeployCommand(positionals, { server: serverOptions(values.server, env), ...(namespace === undefined ? {} : { namespace }), deleteMissing }, io);
  }
  if (first === 'execute') {
    const { values, positionals } = parseOptions(argv.slice(1), {
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
    return executeCommand({ server: serverOptions(values.server, env), namespace, flowId, inputs: input, labels: label, wait, output }, io);
  }
  if (first === 'server') {
    const { values, positionals } = parseOptions(argv.slice(2), {
      port: { type: 'string' },
      host: { type: 'string' },
      'worker-group': { type: 'string' },
      concurrency: { type: 'string' },
      'data-dir': { type: 'string' },
    });
    if (positionals.length > 0) throw usage(`server ${second ?? ''} takes no arguments, got "${positionals.join(' ')}"`);
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
    throw usage(second === undefined ? 'server needs a mode: local, api, scheduler or worker' : `unknown server mode "${second}" (local, api, scheduler or worker)`);
  }
  if (first === 'run') {
    const { values, positionals } = parseOptions(argv.slice(1), { input: { type: 'string', multiple: true }, output: { type: 'string', default: 'text' } } as OptionSpec);
    if (positionals.length !== 1) throw usage('run needs exactly one FLOW file');
    const output = values.output;
    if (output !== 'text' && output !== 'json') throw usage(`--output must be text or json, got "${String(output)}"`);
    const inputs = (values.input as string[] | undefined) ?? [];
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once('SIGINT', onSignal);
    try {
      const { runCommand } = await import('./commands/run.js');
      return await runCommand({ file: positionals[0]!, inputs, output, signal: controller.signal }, env, io);
    } finally {
      process.off('SIGINT', onSignal);
    }
  }
  if (first === 'db' && second === 'migrate') {
    const { values, positionals } = parseOptions(argv.slice(2), { 'database-url': { type: 'string' } });
    if (positionals.length > 0) throw usage(`db migrate takes no arguments, got "${positionals.join(' ')}"`);
    const flag = values['database-url'];
    const databaseUrl = typeof flag === 'string' ? flag : env.DATABASE_URL;
    if (!databaseUrl) throw usage('db migrate needs a database: pass --database-url URL or set DATABASE_URL');
    return dbMigrateCommand({ databaseUrl }, io);
  }
  if (first === 'db') throw usage(second === undefined ? 'db needs a subcommand: migrate' : `unknown db subcommand "${second}"`);
  if (first === 'flow') throw usage(second === undefined ? 'flow needs a subcommand: validate or deploy' : `unknown flow subcommand "${second}"`);
  throw usage(`unknown command "${first}"`);
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; default?: string | boolean; short?: string; multiple?: boolean }>;

function parseOptions<T extends OptionSpec>(args: string[], options: T): ReturnType<typeof parseArgs<{ options: T; allowPositionals: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usage(error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error));
  }
}

function usage(reason: string): SluiceError {
  return new SluiceError('SLU_CLI_USAGE', { reason });
}

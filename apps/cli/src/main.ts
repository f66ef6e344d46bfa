import { parseArgs } from 'node:util';
import { SluiceError } from '@sluice/core';
import { dbMigrateCommand } from './commands/db-migrate.js';
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
  sluice db migrate [--database-url URL]
      Apply pending migrations (prisma/migrations) to the database at URL (default: $DATABASE_URL).
      Prints each applied migration, or "database is up to date"; exits 1 if a migration was changed or failed.
  sluice --help | -h       Show this help.
  sluice --version | -v    Print the version.

Exit codes: 0 success, 1 invalid flows or a failed migration, 2 usage error, unreadable file or unreachable database.
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
  if (first === 'db' && second === 'migrate') {
    const { values, positionals } = parseOptions(argv.slice(2), { 'database-url': { type: 'string' } });
    if (positionals.length > 0) throw usage(`db migrate takes no arguments, got "${positionals.join(' ')}"`);
    const flag = values['database-url'];
    const databaseUrl = typeof flag === 'string' ? flag : env.DATABASE_URL;
    if (!databaseUrl) throw usage('db migrate needs a database: pass --database-url URL or set DATABASE_URL');
    return dbMigrateCommand({ databaseUrl }, io);
  }
  if (first === 'db') throw usage(second === undefined ? 'db needs a subcommand: migrate' : `unknown db subcommand "${second}"`);
  if (first === 'flow') throw usage(second === undefined ? 'flow needs a subcommand: validate' : `unknown flow subcommand "${second}"`);
  throw usage(`unknown command "${first}"`);
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; default?: string | boolean; short?: string }>;

function parseOptions(args: string[], options: OptionSpec): ReturnType<typeof parseArgs<{ options: OptionSpec; allowPositionals: true }>> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw usage(error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error));
  }
}

function usage(reason: string): SluiceError {
  return new SluiceError('SLU_CLI_USAGE', { reason });
}

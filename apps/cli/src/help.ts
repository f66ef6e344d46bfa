/**
 * The CLI's help texts: `sluice --help`, one per command (`sluice run --help`) and one per command group
 * (`sluice server --help`). Only text here: `--help` must not load a command module or its dependencies.
 */
import { VERSION } from './version.js';

export const HELP = `sluice ${VERSION}: run Kestra-style YAML flows

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
      --output json prints the execution as JSON (with --wait: the final one only). A PAUSED execution is
      reported and waited for until it is resumed.
  sluice resume EXECUTION_ID [--input KEY=VALUE]... [--input KEY=@FILE]... [--server URL]
      Resume a PAUSED execution, giving its paused task's onResume inputs; prints the state it is in then.
  sluice trigger list [--namespace NS [--flow FLOW_ID]] [--output text|json] [--server URL]
      List the triggers of the server's flows: type, enabled or disabled, next and last fire dates.
  sluice trigger disable NAMESPACE FLOW_ID TRIGGER_ID [--server URL]
      Disable a trigger without changing its flow: a Schedule stops firing, a Webhook answers 409.
  sluice trigger enable NAMESPACE FLOW_ID TRIGGER_ID [--server URL]
      Enable it again (a Schedule goes on from its next tick).
  sluice run FLOW.yml [--input KEY=VALUE]... [--input KEY=@FILE]... [--output text|json] [--resume-after DURATION]
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

Run \`sluice COMMAND --help\` for a command's flags and examples.

Client commands (flow deploy, execute, resume, trigger) talk to the server at --server URL, else $SLUICE_SERVER_URL, else
http://localhost:8080, with $SLUICE_API_TOKEN (if set) as a bearer token.

Exit codes: 0 success, 1 invalid flows, a failed migration, an API error or a failed execution, 2 usage error,
unreadable file, unreachable database or server, 130 interrupted.
Docs: docs/errors.md lists every error code.`;

const HELP_FLAG = '  -h, --help                Show this help.';

const SERVER_FLAG = `  --server URL              The Sluice server. Default: $SLUICE_SERVER_URL, else http://localhost:8080.
                            $SLUICE_API_TOKEN, if set, is sent as a bearer token.`;

/** Help of each command, by its name as typed after `sluice`. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  'flow validate': `Usage: sluice flow validate FILE_OR_DIR... [--format text|json]

Validate flow files without running or deploying them. A directory is searched for *.yml and *.yaml files; a file
may hold several flows separated by "---". Each problem is printed on stdout as FILE:LINE:COL: message [CODE],
and a summary ("3 flows valid") on stderr.

Options:
  --format text|json        text: one line per problem (default); json: a JSON array of problems
                            ({file, document, line, column, path, code, message}), [] when all are valid.
${HELP_FLAG}

Exit codes: 0 all flows valid, 1 a flow is invalid, 2 usage error or unreadable file.

Example:
  sluice flow validate examples/
  sluice flow validate --format json flows/etl.yml`,

  'flow deploy': `Usage: sluice flow deploy DIR_OR_FILE... [--namespace NS [--delete]] [--server URL]

Validate the flows in the files (a directory is searched for *.yml and *.yaml), then create or update each one on
the server, printing "NS.ID: revision 3 (updated)" per flow. Nothing is deployed if one flow is invalid.

Options:
  --namespace NS            Deploy the flows as namespace NS in one request; every flow must be in NS.
                            Default: none (each flow is created or updated on its own).
  --delete                  With --namespace: also delete the flows of NS that are not in the files.
                            Default: off (other flows of NS are kept).
${SERVER_FLAG}
${HELP_FLAG}

Exit codes: 0 deployed, 1 invalid flows or an API error, 2 usage error, unreadable file or unreachable server.

Example:
  sluice flow deploy flows/
  sluice flow deploy flows/team-a/ --namespace team.a --delete --server https://sluice.example.com`,

  execute: `Usage: sluice execute NAMESPACE FLOW_ID [--input KEY=VALUE]... [--input KEY=@FILE]... [--label KEY=VALUE]...
                      [--wait] [--output text|json] [--server URL]

Start an execution of the flow NAMESPACE.FLOW_ID on the server and print its id.

Options:
  --input KEY=VALUE         A flow input; repeatable. Default: none (the flow's input defaults apply).
  --input KEY=@FILE         Send the file FILE as the FILE input KEY (KEY=@@text sends the text "@text").
  --label KEY=VALUE         A label of the execution; repeatable. Default: none (only the flow's labels).
  --wait                    Follow the execution to its end, printing its log, then its state and task outputs.
                            A PAUSED execution is reported ("execution ID PAUSED: waiting for a resume") and
                            waited for until it is resumed (sluice resume ID). Ctrl-C stops waiting (exit 130)
                            without killing the execution. Default: off (return as soon as it is created).
  --output text|json        text (default): human-readable; json: the execution as JSON (with --wait: the final
                            one only).
${SERVER_FLAG}
${HELP_FLAG}

Exit codes: 0 created (with --wait: SUCCESS or WARNING), 1 an API error or a failed execution, 2 usage error,
unreadable file or unreachable server, 130 interrupted.

Example:
  sluice execute tutorial hello
  sluice execute dev etl --input day=2024-01-31 --input data=@input.csv --label team=data --wait`,

  resume: `Usage: sluice resume EXECUTION_ID [--input KEY=VALUE]... [--input KEY=@FILE]... [--server URL]

Resume a PAUSED execution on the server (POST /api/v1/executions/EXECUTION_ID/resume): its first paused task ends,
with the inputs given as its onResume outputs, and the execution goes on (or stays PAUSED while another task is
paused). Prints the state the execution is in then.

Options:
  --input KEY=VALUE         An onResume input of the paused task; repeatable. Default: none (its defaults apply).
  --input KEY=@FILE         Send the file FILE as the FILE input KEY (KEY=@@text sends the text "@text").
${SERVER_FLAG}
${HELP_FLAG}

Exit codes: 0 resumed, 1 an API error (unknown execution, not PAUSED, invalid inputs), 2 usage error, unreadable
file or unreachable server.

Example:
  sluice resume 3gsd3ugBqkJ3qJMJaHe8fv
  sluice resume 3gsd3ugBqkJ3qJMJaHe8fv --input approved=true --input report=@review.pdf`,

  'trigger list': `Usage: sluice trigger list [--namespace NS [--flow FLOW_ID]] [--output text|json] [--server URL]

List the triggers of the server's flows (GET /api/v1/triggers/search), one per line:
NS.FLOW/TRIGGER  TYPE  enabled|disabled  next DATE  last DATE ("-" when none). A trigger disabled in its flow's
YAML shows "disabled (in the flow)".

Options:
  --namespace NS            Only the triggers of namespace NS and its child namespaces. Default: every namespace.
  --flow FLOW_ID            With --namespace: only the triggers of this flow. Default: every flow.
  --output text|json        text (default): one line per trigger; json: the search results as JSON.
${SERVER_FLAG}
${HELP_FLAG}

Exit codes: 0 listed (none included), 1 an API error, 2 usage error or unreachable server.

Example:
  sluice trigger list
  sluice trigger list --namespace company.team --flow nightly --output json`,

  'trigger disable': `Usage: sluice trigger disable NAMESPACE FLOW_ID TRIGGER_ID [--server URL]

Disable one trigger of a flow on the server (PUT /api/v1/triggers), without changing the flow: a Schedule stops
firing, a Webhook answers 409. It stays disabled until \`sluice trigger enable\`, whatever the flow is redeployed
with. Prints "NS.FLOW/TRIGGER disabled".

Options:
${SERVER_FLAG}
${HELP_FLAG}

Exit codes: 0 disabled, 1 an API error (no such flow or trigger), 2 usage error or unreachable server.

Example:
  sluice trigger disable company.team nightly every-day`,

  'trigger enable': `Usage: sluice trigger enable NAMESPACE FLOW_ID TRIGGER_ID [--server URL]

Enable a trigger disabled with \`sluice trigger disable\` (PUT /api/v1/triggers). A Schedule goes on from its next
tick: the ticks it missed while disabled are not fired. A trigger disabled in its flow's YAML stays disabled.
Prints "NS.FLOW/TRIGGER enabled".

Options:
${SERVER_FLAG}
${HELP_FLAG}

Exit codes: 0 enabled, 1 an API error (no such flow or trigger), 2 usage error or unreachable server.

Example:
  sluice trigger enable company.team nightly every-day`,

  run: `Usage: sluice run FLOW.yml [--input KEY=VALUE]... [--input KEY=@FILE]... [--output text|json] [--resume-after DURATION]

Run one flow here and now, with no server, database or queue: streams its log with task ids and a progress line
per task (nested tasks indented under their parent, with their loop value), then prints its state and task outputs.
Branches run side by side when the flow says so (Parallel, ForEach...). A Pause waiting for a resume asks on the
terminal (its onResume inputs, then Enter), or resumes by itself after --resume-after. Ctrl-C kills the run. Files
go under $SLUICE_DATA_DIR (default .sluice).

Options:
  --input KEY=VALUE         A flow input; repeatable. Default: none (the flow's input defaults apply).
  --input KEY=@FILE         Read the FILE input KEY from the file FILE.
  --output text|json        text (default): the log, then the state and outputs; json: the execution as JSON.
  --resume-after DURATION   Resume a paused execution by itself after DURATION (ISO-8601, e.g. PT10S) instead of
                            asking. Without it and without a terminal, a Pause waiting for a resume kills the run.
${HELP_FLAG}

Exit codes: 0 SUCCESS or WARNING, 1 any other end state (KILLED after Ctrl-C), 2 usage error, invalid flow
or inputs.

Example:
  sluice run examples/hello.yml
  sluice run flows/report.yml --input day=2024-01-31 --input data=@input.csv --output json`,

  'server local': `Usage: sluice server local [--port 8080] [--host 127.0.0.1] [--worker-group KEY] [--concurrency N] [--data-dir .sluice]

API + scheduler + worker in one process, for a laptop or a single machine. Postgres: $DATABASE_URL, else an
embedded one under the data dir; queue: in-process, or BullMQ when $REDIS_URL is set. Prints its URL; stops on
Ctrl-C (running tasks get 10 s to finish).

Options:
  --port N                  The API's port. Default: $PORT, else 8080 (0 picks a free port).
  --host ADDR               The address to listen on. Default: $SLUICE_API_HOST, else 127.0.0.1.
  --worker-group KEY        The worker group this process's worker serves. Default: every worker group.
  --concurrency N           Task runs at the same time, 1 to 256. Default: $SLUICE_WORKER_CONCURRENCY, else 4.
  --data-dir DIR            Embedded Postgres, storage and work dirs. Default: $SLUICE_DATA_DIR, else .sluice.
${HELP_FLAG}

Example:
  sluice server local
  sluice server local --port 9090 --host 0.0.0.0 --concurrency 8 --data-dir /var/lib/sluice`,

  'server api': `Usage: sluice server api [--port 8080]

The REST API alone, for a distributed set-up: needs $DATABASE_URL and $REDIS_URL (see docs/remote-workers.md).
Listens on $SLUICE_API_HOST (default 127.0.0.1); stops on Ctrl-C.

Options:
  --port N                  The port. Default: $PORT, else 8080.
${HELP_FLAG}

Example:
  DATABASE_URL=postgres://sluice@db/sluice REDIS_URL=redis://redis:6379 sluice server api --port 8080`,

  'server scheduler': `Usage: sluice server scheduler

The scheduler alone, for a distributed set-up: needs $DATABASE_URL and $REDIS_URL; several may run at once.
Stops on Ctrl-C.

Options:
${HELP_FLAG}

Example:
  DATABASE_URL=postgres://sluice@db/sluice REDIS_URL=redis://redis:6379 sluice server scheduler`,

  'server worker': `Usage: sluice server worker [--worker-group KEY] [--concurrency N]

A worker of one worker group, for a distributed set-up. Needs only $REDIS_URL, $SLUICE_API_URL and
$SLUICE_WORKER_TOKEN (see docs/remote-workers.md). Stops on Ctrl-C.

Options:
  --worker-group KEY        The worker group it serves. Default: $SLUICE_WORKER_GROUP, else "default".
  --concurrency N           Task runs at the same time, 1 to 256. Default: $SLUICE_WORKER_CONCURRENCY, else 4.
${HELP_FLAG}

Example:
  REDIS_URL=redis://redis:6379 SLUICE_API_URL=http://api:8080 SLUICE_WORKER_TOKEN=... sluice server worker --worker-group gpu --concurrency 2`,

  'db migrate': `Usage: sluice db migrate [--database-url URL]

Apply pending migrations (prisma/migrations) to the database. Prints each applied migration, or
"database is up to date".

Options:
  --database-url URL        The Postgres database. Default: $DATABASE_URL (one of the two is required).
${HELP_FLAG}

Exit codes: 0 migrated or up to date, 1 a migration was changed or failed, 2 usage error or unreachable database.

Example:
  sluice db migrate --database-url postgres://sluice:secret@localhost:5432/sluice`,
};

/** Help of each command group: its subcommands. */
export const GROUP_HELP: Readonly<Record<string, string>> = {
  flow: `Usage: sluice flow COMMAND ...

Work with flow files.

Commands:
  sluice flow validate FILE_OR_DIR... [--format text|json]        Validate flow files.
  sluice flow deploy DIR_OR_FILE... [--namespace NS [--delete]]   Validate, then create or update them on the server.

Run \`sluice flow COMMAND --help\` for a command's flags and examples.

Example:
  sluice flow validate --help`,

  trigger: `Usage: sluice trigger COMMAND ...

Manage the triggers of the server's flows, without changing the flows.

Commands:
  sluice trigger list [--namespace NS [--flow FLOW_ID]]          List them, enabled or disabled.
  sluice trigger disable NAMESPACE FLOW_ID TRIGGER_ID            Disable one.
  sluice trigger enable NAMESPACE FLOW_ID TRIGGER_ID             Enable one again.

Run \`sluice trigger COMMAND --help\` for a command's flags and examples.

Example:
  sluice trigger list --help`,

  server: `Usage: sluice server MODE [OPTIONS]

Start a Sluice server, all in one process or one part of a distributed set-up.

Modes:
  sluice server local        API + scheduler + worker in one process.
  sluice server api          The REST API.
  sluice server scheduler    The scheduler.
  sluice server worker       A worker of one worker group.

Run \`sluice server MODE --help\` for a mode's flags and examples.

Example:
  sluice server local --help`,

  db: `Usage: sluice db COMMAND ...

Manage the database.

Commands:
  sluice db migrate [--database-url URL]    Apply pending migrations.

Run \`sluice db COMMAND --help\` for a command's flags and examples.

Example:
  sluice db migrate --help`,
};

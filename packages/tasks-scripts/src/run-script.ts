import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError } from '@sluice/core';
import type { TaskContext, TaskResult } from '@sluice/plugin-api';
import { parseInputFiles, parseOutputFiles, uploadOutputFiles, writeInputFiles } from '@sluice/tasks-core';
import { parseMarker } from './output-markers.js';
import { DEFAULT_IMAGES } from './languages.js';
import type { ScriptLanguage } from './languages.js';
import { selectTaskRunner } from './select-task-runner.js';

/** How many stderr lines a failure keeps in `details.stderrTail`. */
const STDERR_TAIL = 20;

/** How a Script task runs its file, per language (the command the language's images provide). */
const SCRIPT_RUNNERS: Readonly<Record<ScriptLanguage, { extension: string; command: string }>> = {
  python: { extension: 'py', command: 'python' },
  shell: { extension: 'sh', command: 'sh' },
  node: { extension: 'js', command: 'node' },
};

/** The properties a script task renders right before it runs; the runner's own are rendered by `selectTaskRunner`. */
const RENDERED = [
  'commands', 'beforeCommands', 'env', 'script', 'containerImage',
  'inputFiles', 'outputFiles', 'interpreter', 'failFast', 'warningOnStdErr', 'namespaceFiles',
] as const;

const shellQuote = (value: string): string => `'${value.replace(/'/g, `'\\''`)}'`;

function stringList(value: unknown, property: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) throw new SluiceError('SLU_FLOW_INVALID_TYPE', { expected: `${property} as a list of strings`, actual: typeof value });
  return value.map(String);
}

function envOf(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new SluiceError('SLU_FLOW_INVALID_TYPE', { expected: 'env as a mapping', actual: typeof value });
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

/**
 * `run` of every Commands and Script task (Kestra's AbstractExecScript + CommandsWrapper):
 * 1. render the properties, pick the runner (`selectTaskRunner`), write `inputFiles` (and the `script` file);
 * 2. run `beforeCommands` + `commands` (or the interpreter on the script file) with the task env;
 * 3. read the output: `::{...}::` lines set `vars`, metrics and logs; other stdout lines log at INFO, stderr lines
 *    at WARN when `warningOnStdErr` (default true), else INFO;
 * 4. exit code ≠ 0 → `SLU_TASK_FAILED` (details: exitCode, stderrTail, outputs); otherwise upload `outputFiles` and
 *    end WARNING when `warningOnStdErr` and stderr had lines, SUCCESS otherwise.
 * On abort the runner rejects with `context.signal.reason`, which propagates unchanged.
 */
export async function runScriptTask(
  language: ScriptLanguage,
  kind: 'Commands' | 'Script',
  properties: Readonly<Record<string, unknown>>,
  context: TaskContext,
): Promise<TaskResult> {
  const picked = Object.fromEntries(RENDERED.flatMap((key) => (properties[key] === undefined ? [] : [[key, properties[key]]])));
  const rendered = await context.render(picked);
  const selected = await selectTaskRunner(properties, context);
  // The legacy `docker:` block carries the image; the taskRunner form has none (the task's containerImage is used).
  const legacyImage = selected.options.image;
  const image = typeof rendered.containerImage === 'string' ? rendered.containerImage : typeof legacyImage === 'string' ? legacyImage : DEFAULT_IMAGES[language];
  const env = { ...(language === 'python' ? { PYTHONUNBUFFERED: 'true' } : {}), ...envOf(rendered.env) };
  const warningOnStdErr = rendered.warningOnStdErr !== false;
  const namespaceFiles = rendered.namespaceFiles as { enabled?: unknown } | undefined;
  if (namespaceFiles && namespaceFiles.enabled !== false) context.logger.warn('namespaceFiles is not supported yet: no namespace file was copied');

  const outputPatterns = parseOutputFiles(rendered.outputFiles);
  await writeInputFiles(parseInputFiles(rendered.inputFiles), context);

  let commands: string[];
  let scriptPath: string | undefined;
  if (kind === 'Script') {
    const { extension, command } = SCRIPT_RUNNERS[language];
    const name = `.sluice-script-${context.taskRun.id.replace(/[^A-Za-z0-9_-]/g, '_')}.${extension}`;
    scriptPath = join(context.workingDirectory, name);
    await writeFile(scriptPath, typeof rendered.script === 'string' ? rendered.script : String(rendered.script ?? ''));
    commands = [`${command} ${shellQuote(name)}`];
  } else {
    commands = stringList(rendered.commands, 'commands');
  }

  const vars: Record<string, unknown> = {};
  let stdOutLineCount = 0;
  let stdErrLineCount = 0;
  const stderrTail: string[] = [];
  const onLine = (line: string, isStdErr: boolean): void => {
    const marker = parseMarker(line);
    if (marker) {
      Object.assign(vars, marker.outputs);
      for (const metric of marker.metrics) context.metric(metric);
      for (const log of marker.logs) context.logger.log(log.level, log.message);
      return;
    }
    if (!isStdErr) return context.logger.info(line);
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
    if (warningOnStdErr) context.logger.warn(line);
    else context.logger.info(line);
  };

  let exitCode: number;
  try {
    ({ exitCode } = await selected.runner.run(
      {
        ...(rendered.interpreter !== undefined ? { interpreter: stringList(rendered.interpreter, 'interpreter') } : {}),
        beforeCommands: stringList(rendered.beforeCommands, 'beforeCommands'),
        commands,
        env,
        failFast: rendered.failFast !== false,
        workingDirectory: context.workingDirectory,
        image,
        options: selected.options,
      },
      {
        onStdout: (line) => {
          stdOutLineCount++;
          onLine(line, false);
        },
        onStderr: (line) => {
          stdErrLineCount++;
          onLine(line, true);
        },
      },
      context.signal,
    ));
  } finally {
    if (scriptPath) await rm(scriptPath, { force: true });
  }

  const outputs = { exitCode, vars, outputFiles: {} as Record<string, string>, stdOutLineCount, stdErrLineCount };
  if (exitCode !== 0) {
    throw new SluiceError(
      'SLU_TASK_FAILED',
      { taskId: context.taskRun.taskId, reason: `command exited with code ${exitCode}` },
      { exitCode, stderrTail: [...stderrTail], outputs },
    );
  }
  outputs.outputFiles = await uploadOutputFiles(outputPatterns, context);
  return { state: warningOnStdErr && stdErrLineCount > 0 ? 'WARNING' : 'SUCCESS', outputs };
}

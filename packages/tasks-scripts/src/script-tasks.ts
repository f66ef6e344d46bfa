import type { TaskDefinition } from '@sluice/plugin-api';
import type { ScriptLanguage } from './languages.js';
import { runScriptTask } from './run-script.js';

export { DEFAULT_IMAGES } from './languages.js';
export type { ScriptLanguage } from './languages.js';

const stringList = { type: 'array', items: { type: 'string' } } as const;

/** Properties of Kestra's AbstractExecScript, shared by every Commands and Script task. */
const execScriptProperties = {
  containerImage: { type: 'string', minLength: 1, description: 'Image for container runners; default per language.' },
  beforeCommands: { ...stringList, description: 'Commands run before the main ones, in the same shell.' },
  env: {
    type: 'object',
    additionalProperties: { type: ['string', 'number', 'boolean'] },
    description: 'Environment variables of the commands.',
  },
  warningOnStdErr: { type: 'boolean', description: 'Default true: output on stderr makes the task WARNING.' },
  interpreter: { ...stringList, minItems: 1, description: 'Default ["/bin/sh", "-c"].' },
  failFast: { type: 'boolean', description: 'Default true: prepend `set -e`.' },
  inputFiles: {
    type: ['object', 'string'],
    additionalProperties: { type: 'string' },
    description: 'Files to create in the working directory: name → inline content or a kestra:/// URI.',
  },
  outputFiles: { ...stringList, description: 'Glob patterns of files to upload after the run.' },
  outputDirectory: { type: 'boolean', description: 'Deprecated: use outputFiles.' },
  namespaceFiles: {
    type: 'object',
    properties: { enabled: { type: 'boolean' }, include: stringList, exclude: stringList },
    additionalProperties: false,
  },
  targetOS: { enum: ['AUTO', 'LINUX', 'WINDOWS'] },
} as const;

const outputs = {
  exitCode: { type: 'integer' },
  vars: { type: 'object', description: 'Values printed as ::{"outputs":{...}}:: lines.' },
  outputFiles: { type: 'object', additionalProperties: { type: 'string' } },
  stdOutLineCount: { type: 'integer' },
  stdErrLineCount: { type: 'integer' },
} as const;

const languages: readonly { language: ScriptLanguage; name: string }[] = [
  { language: 'python', name: 'Python' },
  { language: 'shell', name: 'shell' },
  { language: 'node', name: 'Node.js' },
];

function commandsTask(language: ScriptLanguage, name: string): TaskDefinition {
  return {
    type: `io.kestra.plugin.scripts.${language}.Commands`,
    title: `Run ${name} commands`,
    description: `Runs commands with the ${name} toolchain, in a container (runner DOCKER, the default) or a local process (PROCESS).`,
    kind: 'runnable',
    usesRunner: true,
    // Rendering and inputFiles overlap the worker's lease; the command waits for it (see TaskDefinition).
    preparesBeforeStart: true,
    properties: {
      ...execScriptProperties,
      commands: { ...stringList, minItems: 1, description: 'Commands to run, in order, in one shell.' },
    },
    required: ['commands'],
    outputs,
    run: (properties, context) => runScriptTask(language, 'Commands', properties, context),
  };
}

function scriptTask(language: ScriptLanguage, name: string): TaskDefinition {
  return {
    type: `io.kestra.plugin.scripts.${language}.Script`,
    title: `Run an inline ${name} script`,
    description: `Writes \`script\` to a file and runs it with ${name}, in a container or a local process.`,
    kind: 'runnable',
    usesRunner: true,
    // Rendering and inputFiles overlap the worker's lease; the command waits for it (see TaskDefinition).
    preparesBeforeStart: true,
    properties: {
      ...execScriptProperties,
      script: { type: 'string', minLength: 1, description: 'The script source. Expressions are rendered.' },
    },
    required: ['script'],
    outputs,
    run: (properties, context) => runScriptTask(language, 'Script', properties, context),
  };
}

export const scriptTasks: readonly TaskDefinition[] = languages.flatMap(({ language, name }) => [
  commandsTask(language, name),
  scriptTask(language, name),
]);

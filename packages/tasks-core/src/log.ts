import { LOG_LEVELS, SluiceError } from '@sluice/core';
import type { LogLevel } from '@sluice/core';
import type { TaskContext, TaskDefinition, TaskResult } from '@sluice/plugin-api';

/** Render `message` (one string or a list) and `level` (default INFO), then log each message at that level. */
async function runLog(properties: Readonly<Record<string, unknown>>, context: TaskContext): Promise<TaskResult> {
  const { message, level = 'INFO' } = await context.render({ message: properties.message, level: properties.level });
  const upper = String(level).toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(upper)) {
    throw new SluiceError('SLU_FLOW_INVALID_ENUM', { allowed: LOG_LEVELS.join(', '), actual: String(level) });
  }
  const messages: unknown[] = Array.isArray(message) ? message : [message];
  for (const each of messages) context.logger.log(upper as LogLevel, typeof each === 'string' ? each : JSON.stringify(each));
  return {};
}

export const logTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.log.Log',
  aliases: ['io.kestra.core.tasks.log.Log'],
  title: 'Log a message',
  description: 'Writes one or more messages to the execution logs at the given level.',
  kind: 'runnable',
  inProcess: true,
  properties: {
    message: {
      type: ['string', 'array'],
      items: { type: 'string' },
      minItems: 1,
      description: 'The message, or a list of messages, to log. Expressions are rendered.',
    },
    level: { enum: ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'], description: 'Log level; default INFO.' },
  },
  required: ['message'],
  run: runLog,
  examples: ['id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: "Hello {{ inputs.name }}"'],
};

import type { TaskDefinition } from '@sluice/plugin-api';

export const logTask: TaskDefinition = {
  type: 'io.kestra.plugin.core.log.Log',
  aliases: ['io.kestra.core.tasks.log.Log'],
  title: 'Log a message',
  description: 'Writes one or more messages to the execution logs at the given level.',
  kind: 'runnable',
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
  examples: ['id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: "Hello {{ inputs.name }}"'],
};

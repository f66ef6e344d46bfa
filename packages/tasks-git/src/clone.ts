import type { TaskDefinition } from '@sluice/plugin-api';

export const cloneTask: TaskDefinition = {
  type: 'io.kestra.plugin.git.Clone',
  title: 'Clone a git repository',
  description:
    'Clones a repository over HTTP(S) into the working directory (or `directory` inside it). Nest it in a WorkingDirectory so the next tasks see the files.',
  kind: 'runnable',
  properties: {
    url: { type: 'string', minLength: 1, description: 'Repository URL (http:// or https://).' },
    branch: { type: 'string', minLength: 1, description: 'Branch to check out; default: the remote HEAD.' },
    directory: { type: 'string', minLength: 1, description: 'Sub-directory of the working directory to clone into.' },
    depth: { type: 'integer', minimum: 1, description: 'History depth; default 1. Ignored with commit or tag.' },
    username: { type: 'string' },
    password: { type: 'string', description: 'Password or personal access token; use {{ secret(...) }}.' },
    commit: { type: 'string', pattern: '^[0-9a-fA-F]{4,40}$', description: 'Commit to check out.' },
    tag: { type: 'string', minLength: 1 },
    privateKey: { type: 'string' },
    passphrase: { type: 'string' },
    cloneSubmodules: { type: 'boolean' },
    noTags: { type: 'boolean' },
    cloneAllBranches: { type: 'boolean' },
    trustedCaPemPath: { type: 'string' },
    connectTimeout: { type: 'integer', minimum: 1 },
    readTimeout: { type: 'integer', minimum: 1 },
  },
  required: ['url'],
  outputs: {
    directory: { type: 'string', description: 'Absolute path of the checkout on the worker.' },
  },
};

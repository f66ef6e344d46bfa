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
    privateKey: { type: 'string', description: 'SSH key: not supported yet (ignored with a warning); use an https URL.' },
    passphrase: { type: 'string', description: 'Passphrase of privateKey: not supported yet.' },
    cloneSubmodules: { type: 'boolean', description: 'Not supported yet: submodules are not cloned (a warning is logged).' },
    noTags: { type: 'boolean', description: 'Do not fetch tags; default false.' },
    cloneAllBranches: { type: 'boolean', description: 'Fetch every branch, or only the one checked out. Default: every branch for a full-history clone (commit), one branch with depth (as `git clone --depth`).' },
    trustedCaPemPath: { type: 'string', description: 'Not supported yet: the system certificate authorities are used.' },
    connectTimeout: { type: 'integer', minimum: 1, description: 'Milliseconds to establish a connection; default 10000.' },
    readTimeout: { type: 'integer', minimum: 1, description: 'Milliseconds without receiving data before failing; default 60000.' },
  },
  required: ['url'],
  outputs: {
    directory: { type: 'string', description: 'Absolute path of the checkout on the worker.' },
  },
  // isomorphic-git is loaded when a clone runs, not when the registry is built (the CLI's validator needs only the schema).
  run: async (properties, context) => (await import('./run-clone.js')).runClone(properties, context),
};

/**
 * Every flow of the seed document (Kestra's page on DOCKER and PROCESS runners) runs on Sluice's task runtime with
 * real parts: a git server over HTTP, the Docker engine, a private registry with basic auth, the PROCESS runner and
 * local storage. The flows are used as written; only the clone URL, the image name and the registry key of
 * `docker.config` (a URL) point at the local fixtures, and the machine provides what the PROCESS flows expect
 * (`conda`, `python`, the script paths). Worker groups are the scheduler's business (a later issue): here the gpu
 * flow's task runs directly.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlowValidator } from '@sluice/core';
import type { Flow, TaskSpec } from '@sluice/core';
import { LocalFileStorage } from '@sluice/storage';
import { runTask } from '@sluice/task-runtime';
import type { TaskLogEntry, TaskRunOutcome } from '@sluice/task-runtime';
import { describeWithDocker, pointSeedAtFixtures, seedExamplesRepo, seedFlows, startGitServer } from '@sluice/testing';
import type { GitServer } from '@sluice/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDefaultRegistries } from '../src/index.js';

const registries = createDefaultRegistries();
const validator = createFlowValidator(registries, { eager: true });
const SEED_REGISTRY_PASSWORD = 'seed-pat-for-tests'; // scripts/services.sh creates the account

describeWithDocker('the seed flows run on Sluice', (env) => {
  let git: GitServer;
  let root: string;
  let storage: LocalFileStorage;
  const [pythonInContainer, localPythonScript, gpuTask] = seedFlows();

  beforeAll(async () => {
    git = await startGitServer({ repos: { examples: seedExamplesRepo } });
    root = await mkdtemp(join(tmpdir(), 'sluice-seed-'));
    storage = new LocalFileStorage({ root: join(root, 'storage') });
  }, 120_000);

  afterAll(async () => {
    await git?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** The seed flow with its clone URL, image and registry key pointed at the local fixtures. */
  function localPythonInContainer(): string {
    return pointSeedAtFixtures(pythonInContainer ?? '', { gitUrl: git.url('examples'), registryHost: env.registry.host });
  }

  async function run(flow: Flow, task: TaskSpec, secrets: Record<string, string>, workingDirectory?: string) {
    const logs: TaskLogEntry[] = [];
    const children: TaskRunOutcome[] = [];
    const definition = registries.tasks.get(task.type);
    const outcome = await runTask({
      definition,
      task,
      taskRunId: `${task.id}-1`,
      attempt: 1,
      execution: { id: 'exec-seed', namespace: flow.namespace, flowId: flow.id, flowRevision: 1 },
      variables: { flow: { id: flow.id, namespace: flow.namespace, revision: 1 }, execution: { id: 'exec-seed' }, inputs: {}, outputs: {}, vars: {} },
      storage,
      runners: {
        registry: registries.runners,
        // Worker settings, not flow settings: this machine's engine has no bridge network.
        options: { 'io.kestra.plugin.scripts.runner.docker.Docker': { networkMode: 'none', socketPath: env.socketPath } },
      },
      tasks: registries.tasks,
      secrets,
      workRoot: root,
      ...(workingDirectory ? { workingDirectory } : {}),
      onLog: (entry) => logs.push(entry),
      onChildEnd: (child) => children.push(child),
    });
    return { outcome, logs, children };
  }

  it('python_in_container: WorkingDirectory + Clone + python Commands on DOCKER with a private image + LocalFiles', async () => {
    const { flow } = validator.parseFlow(localPythonInContainer());
    const secrets = { SECRET_DOCKER_PAT: Buffer.from(SEED_REGISTRY_PASSWORD).toString('base64') };
    const { outcome, logs, children } = await run(flow, flow.tasks[0]!, secrets);

    expect(outcome.error).toBeUndefined();
    expect(outcome.state).toBe('SUCCESS');
    expect(children.map((c) => [c.taskId, c.state])).toEqual([
      ['cloneRepository', 'SUCCESS'],
      ['gitPythonScripts', 'SUCCESS'],
      ['output', 'SUCCESS'],
    ]);
    const script = children[1]!;
    expect(script.outputs).toMatchObject({ exitCode: 0, stdOutLineCount: 1, stdErrLineCount: 0 });
    expect(logs.some((l) => l.taskId === 'gitPythonScripts' && l.message === 'wrote 5 rows with python 3')).toBe(true);
    const uris = children[2]!.outputs?.uris as Record<string, string>;
    expect(Object.keys(uris)).toEqual(['squares.csv']);
    const stored = await storage.get(uris['squares.csv']!);
    let content = '';
    for await (const chunk of stored) content += String(chunk);
    expect(content.replace(/\r\n/g, '\n')).toBe('id,square\n1,1\n2,4\n3,9\n4,16\n5,25\n');
    // The registry password came from secret() and never shows.
    expect(JSON.stringify({ logs, children, outcome })).not.toContain(SEED_REGISTRY_PASSWORD);
  }, 180_000);

  it('python_in_container fails clearly when the secret holds a wrong password', async () => {
    const { flow } = validator.parseFlow(localPythonInContainer());
    // With the default pull policy (IF_NOT_PRESENT) a cached image needs no login: drop it so the pull happens.
    await env.docker.getImage(`${env.registry.host}/sluice/python:3`).remove({ force: true }).catch(() => undefined);
    const { outcome, children } = await run(flow, flow.tasks[0]!, { SLUICE_SECRET_DOCKER_PAT: 'wrong-password' });
    expect(outcome.state).toBe('FAILED');
    expect(children.map((c) => c.state)).toEqual(['SUCCESS', 'FAILED']);
    expect(children[1]!.error?.code).toBe('SLU_RUNNER_REGISTRY_AUTH_FAILED');
    expect(children[1]!.error?.message).toContain(env.registry.host);
  }, 180_000);

  describePROCESS();

  function describePROCESS(): void {
    let shims: string;
    let savedPath: string | undefined;
    const scriptPath = '/Users/you/scripts/etl_script.py';

    beforeAll(async () => {
      // What a machine running the local_python_script flow has: conda on PATH, `python`, the script at its path.
      shims = await mkdtemp(join(tmpdir(), 'sluice-shims-'));
      await writeFile(join(shims, 'conda'), '#!/bin/sh\necho "conda: $*"\n');
      await writeFile(join(shims, 'python'), '#!/bin/sh\nexec python3 "$@"\n');
      await chmod(join(shims, 'conda'), 0o755);
      await chmod(join(shims, 'python'), 0o755);
      savedPath = process.env.PATH;
      process.env.PATH = `${shims}:${savedPath ?? ''}`;
      await mkdir('/Users/you/scripts', { recursive: true });
      await writeFile(scriptPath, 'import os\nprint("etl ran in", "the task working directory" if os.path.exists(".") and os.getcwd() != "/" else "/")\n');
    });

    afterAll(async () => {
      process.env.PATH = savedPath;
      await rm(shims, { recursive: true, force: true });
      await rm('/Users/you', { recursive: true, force: true });
    });

    it('local_python_script: PROCESS runner, beforeCommands then commands in one shell', async () => {
      const { flow } = validator.parseFlow(localPythonScript ?? '');
      const { outcome, logs } = await run(flow, flow.tasks[0]!, {});
      expect(outcome.error).toBeUndefined();
      expect(outcome.state).toBe('SUCCESS');
      expect(logs.filter((l) => l.taskId === 'conda_example').map((l) => l.message)).toEqual(['conda: activate myCondaEnv', 'etl ran in the task working directory']);
      expect(outcome.outputs).toMatchObject({ exitCode: 0, stdOutLineCount: 2 });
    });

    it('python_in_container with runner: PROCESS and beforeCommands: the same flow without containers', async () => {
      const source = (pythonInContainer ?? '')
        .replace('https://github.com/kestra-io/examples', git.url('examples'))
        .replace('        runner: DOCKER\n', '        runner: PROCESS\n        beforeCommands:\n          - conda activate etl\n');
      const { flow } = validator.parseFlow(source);
      // The docker block (with its secret) is ignored by the PROCESS runner; the secret is not even needed.
      const { outcome, logs, children } = await run(flow, flow.tasks[0]!, {});
      expect(outcome.error).toBeUndefined();
      expect(children.map((c) => [c.taskId, c.state])).toEqual([
        ['cloneRepository', 'SUCCESS'],
        ['gitPythonScripts', 'SUCCESS'],
        ['output', 'SUCCESS'],
      ]);
      expect(logs.filter((l) => l.taskId === 'gitPythonScripts').map((l) => l.message)).toEqual(['conda: activate etl', 'wrote 5 rows with python 3']);
      expect(Object.keys(children[2]!.outputs?.uris as object)).toEqual(['squares.csv']);
    });

    it('gpu_task: PROCESS runner in the working directory holding the script', async () => {
      const { flow } = validator.parseFlow(gpuTask ?? '');
      expect(flow.tasks[0]?.workerGroup).toEqual({ key: 'gpu' });
      const workingDirectory = await mkdtemp(join(root, 'gpu-'));
      await writeFile(join(workingDirectory, 'ml_on_gpu.py'), 'print("::" + \'{"outputs": {"accuracy": 0.97}}\' + "::")\nprint("trained")\n');
      const { outcome, logs } = await run(flow, flow.tasks[0]!, {}, workingDirectory);
      expect(outcome.error).toBeUndefined();
      expect(outcome.state).toBe('SUCCESS');
      expect(outcome.outputs).toMatchObject({ exitCode: 0, vars: { accuracy: 0.97 } });
      expect(logs.map((l) => l.message)).toContain('trained');
      expect(await readFile(join(workingDirectory, 'ml_on_gpu.py'), 'utf8')).toContain('trained');
    });
  }
});

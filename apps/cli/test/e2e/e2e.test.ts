/**
 * Flows run end to end through the REST API, on real Postgres, Redis (distributed), Docker, a git server over HTTP
 * and a registry with auth — once with `sluice server local` (in-process queue) and once with the distributed apps
 * (BullMQ, two scheduler replicas, workers as separate processes). See stack.ts.
 *
 * The seed flows run as written, except the clone URL, the image and the registry key of `docker.config` (local
 * fixtures). The machines provide what the PROCESS flows expect, as a real worker machine would: `conda` and
 * `python` on PATH, the ETL script at its absolute path, and on the gpu worker the `ml_on_gpu.py` script the
 * flow runs from its working directory (its `python` provisions it there).
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerTestEnv, pointSeedAtFixtures, seedExamplesRepo, seedFlows, startGitServer } from '@sluice/testing';
import type { DockerTestEnv, GitServer } from '@sluice/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDistributedStack, startLocalStack } from './stack.js';
import type { ExecutionJson, Stack, WorkerHandle } from './stack.js';

const SEED_REGISTRY_PASSWORD = 'seed-pat-for-tests';
const [pythonInContainer = '', localPythonScript = '', gpuTask = ''] = seedFlows();

interface Fixtures {
  docker: DockerTestEnv;
  git: GitServer;
  shims: string;
  gpuShims: string;
  root: string;
  env: Record<string, string>;
}

let fixtures: Fixtures | undefined;
let savedPath: string | undefined;

async function setUpFixtures(): Promise<Fixtures | undefined> {
  const docker = await dockerTestEnv({ python: true });
  if (!docker) return undefined;
  const git = await startGitServer({ repos: { examples: seedExamplesRepo } });
  const root = await mkdtemp(join(tmpdir(), 'sluice-e2e-fixtures-'));
  const shims = join(root, 'bin');
  const gpuShims = join(root, 'gpu-bin');
  await mkdir(shims);
  await mkdir(gpuShims);
  await writeFile(join(shims, 'conda'), '#!/bin/sh\necho "conda: $*"\n');
  await writeFile(join(shims, 'python'), '#!/bin/sh\nexec python3 "$@"\n');
  // In local mode every worker is on this machine, so this machine is also the gpu box: its python provisions the script.
  await mkdir(join(root, 'local-bin'));
  await writeFile(join(root, 'local-bin', 'python'), `#!/bin/sh\n[ "$1" != ml_on_gpu.py ] || [ -f ml_on_gpu.py ] || cp ${join(root, 'ml_on_gpu.py')} .\nexec python3 "$@"\n`);
  await writeFile(join(root, 'ml_on_gpu.py'), 'print("::" + \'{"outputs": {"accuracy": 0.97}}\' + "::")\nprint("trained on the gpu worker")\n');
  await writeFile(join(gpuShims, 'python'), `#!/bin/sh\n[ -f ml_on_gpu.py ] || cp ${join(root, 'ml_on_gpu.py')} .\nexec python3 "$@"\n`);
  for (const file of [join(shims, 'conda'), join(shims, 'python'), join(gpuShims, 'python'), join(root, 'local-bin', 'python')]) await chmod(file, 0o755);
  await mkdir('/Users/you/scripts', { recursive: true });
  await writeFile('/Users/you/scripts/etl_script.py', 'print("etl ran")\n');
  savedPath = process.env.PATH;
  // The in-process (local) workers see this process's PATH; worker processes get it through `env`.
  process.env.PATH = `${join(root, 'local-bin')}:${shims}:${savedPath ?? ''}`;
  const env = {
    PATH: `${shims}:${savedPath ?? ''}`,
    SECRET_DOCKER_PAT: Buffer.from(SEED_REGISTRY_PASSWORD).toString('base64'),
    SLUICE_DOCKER_NETWORK_MODE: 'none',
    DOCKER_HOST: `unix://${docker.socketPath}`,
  };
  return { docker, git, shims, gpuShims, root, env };
}

function localPythonInContainer(f: Fixtures): string {
  return pointSeedAtFixtures(pythonInContainer, { gitUrl: f.git.url('examples'), registryHost: f.docker.registry.host });
}

const shell = (id: string, namespace: string, body: string): string => `id: ${id}\nnamespace: ${namespace}\n${body}`;

function sleepingProcesses(marker: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', marker], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

beforeAll(async () => {
  fixtures = await setUpFixtures();
}, 120_000);

afterAll(async () => {
  if (savedPath !== undefined) process.env.PATH = savedPath;
  await fixtures?.git.close();
  if (fixtures) await rm(fixtures.root, { recursive: true, force: true });
  await rm('/Users/you', { recursive: true, force: true });
});

for (const mode of ['local', 'distributed'] as const) {
  describe(`end to end (${mode === 'local' ? 'sluice server local, in-process queue' : 'distributed apps over BullMQ'})`, () => {
    let stack: Stack;
    let gpu: WorkerHandle;
    let defaultWorker: WorkerHandle | undefined;
    const ns = `e2e.${mode}`;

    beforeAll(async () => {
      if (!fixtures) throw new Error('fixtures unavailable (Docker engine, registry or python image missing): run scripts/services.sh --python');
      const started = mode === 'local' ? await startLocalStack(fixtures.env) : await startDistributedStack(fixtures.env);
      if (!started) throw new Error('Postgres or redis-server unavailable: run scripts/services.sh');
      stack = started;
      if (mode === 'distributed') defaultWorker = await stack.startWorker('default');
      gpu = await stack.startWorker('gpu', { env: { PATH: `${fixtures.gpuShims}:${fixtures.env.PATH}` } });
    }, 120_000);

    afterAll(async () => {
      await stack?.close();
    }, 60_000);

    it('seed python_in_container: WorkingDirectory + Clone + python on DOCKER from a private registry + LocalFiles', async () => {
      await stack.deploy(localPythonInContainer(fixtures!));
      const created = await stack.execute('dev', 'python_in_container');
      const done = await stack.waitFor(created.id, undefined, 120_000);
      expect(done.state.current).toBe('SUCCESS');
      expect(done.taskRunList.map((t) => [t.taskId, t.state.current])).toEqual([
        ['wdir', 'SUCCESS'],
        ['cloneRepository', 'SUCCESS'],
        ['gitPythonScripts', 'SUCCESS'],
        ['output', 'SUCCESS'],
      ]);
      const output = done.taskRunList.find((t) => t.taskId === 'output')!;
      const uri = (output.outputs?.uris as Record<string, string>)['squares.csv']!;
      const file = await stack.api(`/api/v1/executions/${done.id}/file?path=${encodeURIComponent(uri)}`);
      expect((await file.text()).replace(/\r\n/g, '\n')).toBe('id,square\n1,1\n2,4\n3,9\n4,16\n5,25\n'); // csv writes CRLF
      const logs = await (await stack.api(`/api/v1/logs/${done.id}/download`)).text();
      expect(logs).toContain('wrote 5 rows with python 3');
      expect(logs).not.toContain(SEED_REGISTRY_PASSWORD);
    }, 180_000);

    it('seed local_python_script: PROCESS runner with beforeCommands', async () => {
      await stack.deploy(localPythonScript);
      const done = await stack.execute('dev', 'local_python_script', { wait: true });
      expect(done.state.current).toBe('SUCCESS');
      const logs = await (await stack.api(`/api/v1/logs/${done.id}/download`)).text();
      expect(logs).toContain('conda: activate myCondaEnv');
      expect(logs).toContain('etl ran');
    }, 60_000);

    it('seed gpu_task runs on the gpu worker and never on the default one', async () => {
      await stack.deploy(gpuTask);
      const done = await stack.waitFor((await stack.execute('dev', 'gpu_task')).id);
      expect(done.state.current).toBe('SUCCESS');
      const run = done.taskRunList[0]!;
      expect(run.workerGroup).toBe('gpu');
      expect(run.workerId).toBe(gpu.id);
      if (defaultWorker) expect(run.workerId).not.toBe(defaultWorker.id);
      expect(run.outputs).toMatchObject({ exitCode: 0, vars: { accuracy: 0.97 } });
    }, 60_000);

    it('?wait=true answers with the ended execution', async () => {
      await stack.deploy(shell('hello', ns, 'tasks:\n  - id: say\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - echo hi\n'));
      const done = await stack.execute(ns, 'hello', { wait: true });
      expect(done.state.current).toBe('SUCCESS');
      expect(done.taskRunList[0]?.outputs).toMatchObject({ exitCode: 0 });
    }, 30_000);

    it('kill mid-task: KILLED, and the process is gone', async () => {
      const marker = `sleep 600.${mode === 'local' ? '1111' : '2222'}`;
      await stack.deploy(shell('sleeper', ns, `tasks:\n  - id: nap\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - ${marker}\n`));
      const created = await stack.execute(ns, 'sleeper');
      await stack.waitFor(created.id, (e) => e.taskRunList[0]?.state.current === 'RUNNING');
      await stack.waitFor(created.id, () => sleepingProcesses(marker).length > 0, 10_000);
      const kill = await stack.api(`/api/v1/executions/${created.id}/kill`, { method: 'DELETE' });
      expect(kill.status).toBe(202);
      const done = await stack.waitFor(created.id, undefined, 20_000);
      expect(done.state.current).toBe('KILLED');
      expect(done.taskRunList[0]?.state.current).toBe('KILLED');
      expect(sleepingProcesses(marker)).toEqual([]);
      // A second kill of an ended execution is a conflict.
      expect((await stack.api(`/api/v1/executions/${created.id}/kill`, { method: 'DELETE' })).status).toBe(409);
    }, 60_000);

    it('timeout: the task fails with SLU_TASK_TIMEOUT', async () => {
      await stack.deploy(shell('slow', ns, 'tasks:\n  - id: nap\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    timeout: PT1S\n    commands:\n      - sleep 30\n'));
      const done = await stack.waitFor((await stack.execute(ns, 'slow')).id, undefined, 30_000);
      expect(done.state.current).toBe('FAILED');
      expect((done.taskRunList[0]?.outputs?.error as { code?: string } | undefined)?.code).toBe('SLU_TASK_TIMEOUT');
    }, 60_000);

    it('retry with backoff: two failures, then success on attempt 3', async () => {
      const counter = join(fixtures!.root, `retry-${mode}`);
      await stack.deploy(
        shell(
          'flaky',
          ns,
          `tasks:\n  - id: try\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    retry:\n      type: exponential\n      interval: PT0.2S\n      maxInterval: PT1S\n      maxAttempt: 3\n    commands:\n      - n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo attempt $n; [ $n -ge 3 ]\n`,
        ),
      );
      const done = await stack.waitFor((await stack.execute(ns, 'flaky')).id, undefined, 30_000);
      expect(done.state.current).toBe('SUCCESS');
      const run = done.taskRunList[0]!;
      expect(run.attempts?.map((a) => a.state.current)).toEqual(['FAILED', 'FAILED', 'SUCCESS']);
      const states = (run.state as unknown as { histories: { state: string }[] }).histories.map((h) => h.state);
      expect(states.filter((s) => s === 'RETRYING')).toHaveLength(2);
      // The execution shows each wait too, as in Kestra: RUNNING → RETRYING → RUNNING, twice.
      const executionStates = (done.state as unknown as { histories: { state: string }[] }).histories.map((h) => h.state);
      expect(executionStates).toEqual(['CREATED', 'RUNNING', 'RETRYING', 'RUNNING', 'RETRYING', 'RUNNING', 'SUCCESS']);
    }, 60_000);

    it('retry as a new execution (behavior CREATE_NEW_EXECUTION): the first ends RETRIED, the second succeeds', async () => {
      const counter = join(fixtures!.root, `new-execution-${mode}`);
      await stack.deploy(
        shell(
          'flaky_flow',
          ns,
          `retry:\n  type: constant\n  interval: PT0.2S\n  maxAttempt: 2\n  behavior: CREATE_NEW_EXECUTION\ntasks:\n  - id: try\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; [ $n -ge 2 ]\n`,
        ),
      );
      const first = await stack.waitFor((await stack.execute(ns, 'flaky_flow')).id, undefined, 30_000);
      expect(first.state.current).toBe('RETRIED');
      expect(first.taskRunList.map((t) => [t.taskId, t.state.current])).toEqual([['try', 'RETRIED']]);
      const search = (await (await stack.api(`/api/v1/executions/search?namespace=${ns}&flowId=flaky_flow`)).json()) as { results: (ExecutionJson & { originalId?: string })[] };
      const second = search.results.find((e) => e.originalId === first.id);
      expect(second).toBeDefined();
      const done = await stack.waitFor(second!.id, undefined, 30_000);
      expect(done.state.current).toBe('SUCCESS');
      expect(done).toMatchObject({ originalId: first.id, metadata: { attemptNumber: 2, originalCreatedDate: (first.state as { startDate?: string }).startDate } });
    }, 60_000);

    it('errors handlers run after a failure, and the execution is FAILED', async () => {
      await stack.deploy(
        shell(
          'broken',
          ns,
          'tasks:\n  - id: fail\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - exit 3\n  - id: never\n    type: io.kestra.plugin.core.log.Log\n    message: not reached\nerrors:\n  - id: alert\n    type: io.kestra.plugin.core.log.Log\n    message: "task failed in {{ execution.id }}"\n',
        ),
      );
      const done = await stack.waitFor((await stack.execute(ns, 'broken')).id);
      expect(done.state.current).toBe('FAILED');
      expect(done.taskRunList.map((t) => [t.taskId, t.state.current])).toEqual([
        ['fail', 'FAILED'],
        ['alert', 'SUCCESS'],
      ]);
      expect(done.taskRunList[0]?.outputs).toMatchObject({ exitCode: 3 });
    }, 30_000);

    it('restart of a failed execution resumes from the failed task', async () => {
      const marker = join(fixtures!.root, `restart-${mode}`);
      await stack.deploy(
        shell(
          'restartable',
          ns,
          `tasks:\n  - id: first\n    type: io.kestra.plugin.core.log.Log\n    message: once\n  - id: needs_marker\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - test -f ${marker}\n`,
        ),
      );
      const failed = await stack.waitFor((await stack.execute(ns, 'restartable')).id);
      expect(failed.state.current).toBe('FAILED');
      await writeFile(marker, 'ok');
      expect((await stack.api(`/api/v1/executions/${failed.id}/restart`, { method: 'POST' })).status).toBe(200);
      const done = await stack.waitFor(failed.id, (e) => e.state.current === 'SUCCESS' || e.state.histories.filter((h) => h.state === 'FAILED').length >= 2);
      expect(done.state.current).toBe('SUCCESS');
      expect(done.taskRunList.map((t) => [t.taskId, t.state.current, t.attempts?.length])).toEqual([
        ['first', 'SUCCESS', 1],
        ['needs_marker', 'SUCCESS', 2],
      ]);
    }, 60_000);

    it('restart starts the errors branch over: it runs again on a new failure, and not at all on success', async () => {
      const marker = join(fixtures!.root, `restart-errors-${mode}`);
      await stack.deploy(
        shell(
          'restart_errors',
          ns,
          `tasks:\n  - id: needs_marker\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - test -f ${marker}\n` +
            'errors:\n  - id: alert\n    type: io.kestra.plugin.core.log.Log\n    message: alerted\n',
        ),
      );
      const failures = (count: number) => (e: { state: { current: string; histories: { state: string }[] } }) =>
        e.state.current === 'SUCCESS' || e.state.histories.filter((h) => h.state === 'FAILED').length >= count;
      const first = await stack.waitFor((await stack.execute(ns, 'restart_errors')).id);
      expect(first.taskRunList.map((t) => [t.taskId, t.state.current])).toEqual([
        ['needs_marker', 'FAILED'],
        ['alert', 'SUCCESS'],
      ]);
      const firstAlert = first.taskRunList[1]?.id;

      // Restarted while the task still fails: the handler runs again (a new run; the earlier one is gone).
      expect((await stack.api(`/api/v1/executions/${first.id}/restart`, { method: 'POST' })).status).toBe(200);
      const second = await stack.waitFor(first.id, failures(2));
      expect(second.state.current).toBe('FAILED');
      expect(second.taskRunList.map((t) => [t.taskId, t.state.current, t.attempts?.length])).toEqual([
        ['needs_marker', 'FAILED', 2],
        ['alert', 'SUCCESS', 1],
      ]);
      expect(second.taskRunList[1]?.id).not.toBe(firstAlert);

      // Restarted once the task can succeed: no handler runs.
      await writeFile(marker, 'ok');
      expect((await stack.api(`/api/v1/executions/${first.id}/restart`, { method: 'POST' })).status).toBe(200);
      const done = await stack.waitFor(first.id, (e) => e.state.current === 'SUCCESS' || failures(3)(e));
      expect(done.state.current).toBe('SUCCESS');
      expect(done.taskRunList.map((t) => [t.taskId, t.state.current, t.attempts?.length])).toEqual([['needs_marker', 'SUCCESS', 3]]);
      const logs = await (await stack.api(`/api/v1/logs/${first.id}/download`)).text();
      expect(logs.match(/alerted/g)).toHaveLength(2);
    }, 90_000);

    it('flow outputs are evaluated when the execution succeeds; one that is not of its type fails it', async () => {
      const body = (type: string) =>
        `inputs:\n  - id: who\n    type: STRING\n    required: false\ntasks:\n  - id: produce\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - echo '::{"outputs":{"count":42,"name":"x"}}::'\n` +
        `outputs:\n  - id: total\n    type: ${type}\n    value: "{{ outputs.produce.vars.count }}"\n  - id: label\n    type: STRING\n    value: "{{ outputs.produce.vars.name }}-{{ inputs.who ?? 'none' }}"\n`;
      await stack.deploy(shell('with_outputs', ns, body('INT')));
      const done = await stack.waitFor((await stack.execute(ns, 'with_outputs')).id);
      expect(done.state.current).toBe('SUCCESS');
      expect((done as unknown as { outputs: unknown }).outputs).toEqual({ total: 42, label: 'x-none' });

      await stack.deploy(shell('with_outputs', ns, body('BOOLEAN')));
      const failed = await stack.waitFor((await stack.execute(ns, 'with_outputs')).id);
      expect(failed.state.current).toBe('FAILED');
      expect(failed.taskRunList.map((t) => [t.taskId, t.state.current])).toEqual([['produce', 'SUCCESS']]);
      expect(failed).not.toHaveProperty('outputs'); // none: left out, as Kestra leaves out an empty map
      const logs = await (await stack.api(`/api/v1/logs/${failed.id}/download`)).text();
      expect(logs).toContain('flow output "total" is not a valid BOOLEAN');
    }, 60_000);

    it('an execution answered as ended by ?wait=true already has its last log lines stored', async () => {
      await stack.deploy(
        shell('chatty', ns, 'tasks:\n  - id: talk\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - for i in 1 2 3; do echo "said $i"; done\n'),
      );
      for (let round = 0; round < 5; round++) {
        const answered = await stack.api(`/api/v1/executions/${ns}/chatty?wait=true`, { method: 'POST' });
        const execution = (await answered.json()) as { id: string; state: { current: string } };
        expect(execution.state.current).toBe('SUCCESS');
        // No waiting: the lines were stored in the transaction that ended the task run.
        const logs = await (await stack.api(`/api/v1/logs/${execution.id}/download`)).text();
        expect(logs.match(/said \d/g)).toEqual(['said 1', 'said 2', 'said 3']);
      }
    }, 60_000);

    it('a group with no worker waits, then runs when one starts', async () => {
      const group = `late${mode}`;
      await stack.deploy(shell('waits', ns, `tasks:\n  - id: job\n    type: io.kestra.plugin.core.log.Log\n    message: finally\n    workerGroup:\n      key: ${group}\n`));
      const created = await stack.execute(ns, 'waits');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const waiting = await stack.get(created.id);
      expect(waiting.state.current).toBe('RUNNING');
      expect(waiting.taskRunList[0]?.state.current).toBe('CREATED');
      const late = await stack.startWorker(group);
      const done = await stack.waitFor(created.id);
      expect(done.state.current).toBe('SUCCESS');
      expect(done.taskRunList[0]?.workerId).toBe(late.id);
      await late.stop();
    }, 60_000);

    it('workerGroup fallback FAIL for a group nobody serves fails with a clear message', async () => {
      await stack.deploy(shell('nogroup', ns, 'tasks:\n  - id: job\n    type: io.kestra.plugin.core.log.Log\n    message: x\n    workerGroup:\n      key: nobody\n      fallback: FAIL\n'));
      const done = await stack.waitFor((await stack.execute(ns, 'nogroup')).id);
      expect(done.state.current).toBe('FAILED');
      const logs = await (await stack.api(`/api/v1/logs/${done.id}/download`)).text();
      expect(logs).toContain('no live worker in worker group "nobody" (fallback FAIL)');
    }, 30_000);

    it('two workers of one group share the load', async () => {
      const group = `shared${mode}`;
      const a = await stack.startWorker(group);
      const b = await stack.startWorker(group);
      await stack.deploy(shell('shared', ns, `tasks:\n  - id: job\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - sleep 1\n    workerGroup:\n      key: ${group}\n`));
      const ids = await Promise.all(Array.from({ length: 10 }, async () => (await stack.execute(ns, 'shared')).id));
      const done = await Promise.all(ids.map((id) => stack.waitFor(id)));
      expect(done.every((e) => e.state.current === 'SUCCESS')).toBe(true);
      const workers = new Set(done.map((e) => e.taskRunList[0]?.workerId));
      expect(workers).toEqual(new Set([a.id, b.id]));
      await Promise.all([a.stop(), b.stop()]);
    }, 60_000);

    it('flow concurrency limit 1 with QUEUE: the second execution waits in QUEUED, then runs', async () => {
      await stack.deploy(shell('one_at_a_time', ns, 'concurrency:\n  limit: 1\ntasks:\n  - id: nap\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - sleep 1\n'));
      const first = await stack.execute(ns, 'one_at_a_time');
      await stack.waitFor(first.id, (e) => e.state.current === 'RUNNING');
      const second = await stack.execute(ns, 'one_at_a_time');
      await stack.waitFor(second.id, (e) => e.state.current === 'QUEUED', 10_000);
      const [a, b] = await Promise.all([stack.waitFor(first.id), stack.waitFor(second.id)]);
      expect([a.state.current, b.state.current]).toEqual(['SUCCESS', 'SUCCESS']);
      expect(b.state.histories.map((h) => h.state)).toEqual(['CREATED', 'QUEUED', 'CREATED', 'RUNNING', 'SUCCESS']);
    }, 60_000);

    it('a Schedule trigger fires once per tick, even with several schedulers, with trigger.date in its variables', async () => {
      await stack.deploy(
        shell('ticking', ns, 'inputs:\n  - id: who\n    type: STRING\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: "hi {{ inputs.who }} for {{ trigger.date }}"\ntriggers:\n  - id: every_second\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: "* * * * * *"\n    withSeconds: true\n    inputs:\n      who: cron\n'),
      );
      const deployedAt = Date.now();
      const find = async (): Promise<ExecutionJson[]> =>
        ((await (await stack.api(`/api/v1/executions/search?namespace=${ns}&flowId=ticking&size=100`)).json()) as { results: ExecutionJson[] }).results;
      let executions = await find();
      for (let i = 0; i < 300 && executions.length < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        executions = await find();
      }
      // Stop it ticking, then count: at most one execution per elapsed second.
      await stack.deploy(shell('ticking', ns, 'tasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: done\n'));
      const elapsedS = (Date.now() - deployedAt) / 1000;
      executions = await find();
      expect(executions.length).toBeGreaterThanOrEqual(3);
      expect(executions.length).toBeLessThanOrEqual(Math.ceil(elapsedS) + 1);
      expect(executions[0]?.inputs).toEqual({ who: 'cron' });

      // Kestra's execution.trigger, and trigger.* in templates: the tick it fired for, the next and the previous.
      const fired = await stack.waitFor(executions[executions.length - 1]!.id);
      expect(fired.state.current).toBe('SUCCESS');
      const trigger = (fired as unknown as { trigger: { id: string; type: string; variables: Record<string, string> } }).trigger;
      expect(trigger).toMatchObject({ id: 'every_second', type: 'io.kestra.plugin.core.trigger.Schedule' });
      const date = Date.parse(trigger.variables.date ?? '');
      expect(date % 1000).toBe(0);
      expect(trigger.variables).toEqual({
        date: new Date(date).toISOString(),
        next: new Date(date + 1000).toISOString(),
        previous: new Date(date - 1000).toISOString(),
      });
      const logs = await (await stack.api(`/api/v1/logs/${fired.id}/download`)).text();
      expect(logs).toContain(`hi cron for ${trigger.variables.date}`);
      // Executions started through the API have no trigger.
      expect('trigger' in (await stack.waitFor((await stack.execute(ns, 'ticking')).id))).toBe(false);
    }, 60_000);

    if (mode === 'distributed') {
      it('SIGKILL of a worker mid-task: another worker picks the task up, nothing lost or doubled', async () => {
        const group = 'fragile';
        const counter = join(fixtures!.root, 'sigkill-runs');
        const doomed = await stack.startWorker(group);
        await stack.deploy(shell('survivor', ns, `tasks:\n  - id: work\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - echo run >> ${counter}\n      - sleep 2\n      - echo finished\n    workerGroup:\n      key: ${group}\n`));
        const created = await stack.execute(ns, 'survivor');
        await stack.waitFor(created.id, (e) => e.taskRunList[0]?.state.current === 'RUNNING');
        await doomed.kill();
        const rescuer = await stack.startWorker(group);
        const done = await stack.waitFor(created.id, undefined, 60_000);
        expect(done.state.current).toBe('SUCCESS');
        expect(done.taskRunList).toHaveLength(1);
        expect(done.taskRunList[0]?.workerId).toBe(rescuer.id);
        const { readFile } = await import('node:fs/promises');
        expect((await readFile(counter, 'utf8')).trim().split('\n')).toEqual(['run', 'run']); // started twice, never at once
        await rescuer.stop();
      }, 90_000);

      it('scheduler restart mid-execution: the execution continues', async () => {
        await stack.deploy(
          shell('two_steps', ns, 'tasks:\n  - id: one\n    type: io.kestra.plugin.scripts.shell.Commands\n    runner: PROCESS\n    commands:\n      - sleep 1\n  - id: two\n    type: io.kestra.plugin.core.log.Log\n    message: second\n'),
        );
        const created = await stack.execute(ns, 'two_steps');
        await stack.waitFor(created.id, (e) => e.taskRunList[0]?.state.current === 'RUNNING');
        await stack.restartSchedulers!(async () => {
          // No scheduler while task one ends: its result waits in Redis.
          await new Promise((resolve) => setTimeout(resolve, 1500));
        });
        const done = await stack.waitFor(created.id, undefined, 30_000);
        expect(done.state.current).toBe('SUCCESS');
        expect(done.taskRunList.map((t) => t.taskId)).toEqual(['one', 'two']);
      }, 60_000);
    }
  });
}

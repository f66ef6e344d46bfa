/**
 * A worker killed with SIGKILL leaves its containers running: the engine owns them. Another worker's sweep
 * (`sweepDeadWorkerContainers`) removes them, judging the worker dead by the process identity each container
 * carries (issue #15: a task whose worker is gone must not keep running unseen). Real engine, real processes.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { describeWithDocker } from '@sluice/testing';
import type { DockerTestEnv } from '@sluice/testing';
import {
  currentProcessIdentity,
  formatProcessIdentity,
  parseProcessIdentity,
  processIdentityOf,
  RUNNER_LABEL,
  sweepDeadWorkerContainers,
  WORKER_LABEL,
  WORKER_PROCESS_LABEL,
} from '@sluice/runner-docker';
import type { WorkerProcessIdentity } from '@sluice/runner-docker';

const fixture = fileURLToPath(new URL('./fixtures/docker-worker.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const WAIT = { timeout: 20_000, interval: 100 };

async function containersOf(docker: Dockerode, worker: string): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${RUNNER_LABEL}=docker`, `${WORKER_LABEL}=${worker}`] } });
}

async function isGone(container: Dockerode.Container): Promise<boolean> {
  try {
    await container.inspect();
    return false;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return true;
    throw error;
  }
}

describeWithDocker('sweeping the containers of dead workers', (env: DockerTestEnv) => {
  let workingDirectory: string;
  const workerIds: string[] = [];
  const workerId = (name: string): string => {
    const id = `dead-sweep-test-${process.pid}-${name}`;
    workerIds.push(id);
    return id;
  };

  beforeEach(async () => {
    workingDirectory = await mkdtemp(join(tmpdir(), 'sluice-dead-sweep-'));
  });
  afterEach(async () => {
    for (const id of workerIds.splice(0)) {
      for (const info of await containersOf(env.docker, id)) await env.docker.getContainer(info.Id).remove({ force: true });
    }
    await rm(workingDirectory, { recursive: true, force: true });
  });

  const create = (worker: string, identity: WorkerProcessIdentity | string) =>
    env.docker.createContainer({
      Image: env.busyboxImage,
      Cmd: ['sleep', '1000'],
      Labels: {
        [RUNNER_LABEL]: 'docker',
        [WORKER_LABEL]: worker,
        [WORKER_PROCESS_LABEL]: typeof identity === 'string' ? identity : formatProcessIdentity(identity),
      },
      HostConfig: { NetworkMode: 'none' },
    });

  it('removes the running container of a worker killed with SIGKILL, from another worker process', async () => {
    const deadWorker = workerId('killed');
    const child = spawn(
      process.execPath,
      ['--conditions=@sluice/source', '--import', 'tsx', fixture, env.socketPath, env.busyboxImage, deadWorker, workingDirectory],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) resolve();
      });
      child.once('exit', (code, signal) => reject(new Error(`the worker stand-in ended (${code ?? signal}) before its container ran:\n${stderr}`)));
    });
    const identity = processIdentityOf(child.pid!);
    expect(identity).toBeDefined();
    // The engine may list it as created for a moment after its first output.
    await expect.poll(async () => (await containersOf(env.docker, deadWorker)).map((c) => c.State), WAIT).toEqual(['running']);
    const [container] = await containersOf(env.docker, deadWorker);
    // The label names the stand-in's process, not the test's.
    expect(parseProcessIdentity(container!.Labels[WORKER_PROCESS_LABEL] ?? '')).toEqual(identity);

    // While the worker lives, its container stays.
    expect(await sweepDeadWorkerContainers({ docker: env.docker })).not.toContain(container!.Id);
    expect((await containersOf(env.docker, deadWorker)).map((c) => c.State)).toEqual(['running']);

    child.kill('SIGKILL');
    await exited;
    // The engine runs it on: nothing else would stop it.
    expect((await containersOf(env.docker, deadWorker)).map((c) => c.State)).toEqual(['running']);
    await sweepDeadWorkerContainers({ docker: env.docker });
    // Gone (the sweep removes it; another worker's sweep on this engine, if one runs, would do the same).
    expect(await containersOf(env.docker, deadWorker)).toEqual([]);
  });

  it('judges only processes of its own kernel and PID namespace, and a pid used again is not the worker', async () => {
    const self = currentProcessIdentity()!;
    expect(self).toBeDefined();
    const alive = await create(workerId('alive'), self);
    // Our pid, another start time: the worker that had this pid is dead, whoever holds the pid now.
    const reused = await create(workerId('reused'), { ...self, startTime: String(BigInt(self.startTime) + 1n) });
    // A dead pid elsewhere: another machine (boot id) or PID namespace cannot be judged from here.
    const deadPid = 2 ** 22 + 1; // above Linux's largest pid_max: never a live process
    const otherMachine = await create(workerId('other-machine'), { ...self, pid: deadPid, bootId: '00000000-0000-0000-0000-000000000000' });
    const otherNamespace = await create(workerId('other-namespace'), { ...self, pid: deadPid, pidNamespace: '1' });
    const sameMachineDead = await create(workerId('dead-pid'), { ...self, pid: deadPid });
    const notOurs = await create(workerId('not-ours'), 'written by someone else');

    await sweepDeadWorkerContainers({ docker: env.docker });
    for (const gone of [reused, sameMachineDead]) expect(await isGone(gone)).toBe(true);
    for (const kept of [alive, otherMachine, otherNamespace, notOurs]) expect(await isGone(kept)).toBe(false);
  });
});

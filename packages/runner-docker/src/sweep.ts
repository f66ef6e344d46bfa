import type Dockerode from 'dockerode';
import { RUNNER_LABEL, WORKER_LABEL } from './container-spec.js';
import { currentProcessIdentity, parseProcessIdentity, processLiveness, WORKER_PROCESS_LABEL } from './worker-process.js';
import type { WorkerProcessIdentity } from './worker-process.js';

async function removeAll(docker: Dockerode, ids: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const id of ids) {
    try {
      await docker.getContainer(id).remove({ force: true, v: true });
      removed.push(id);
    } catch (error) {
      // Already gone, or being removed (by its worker, by another sweep): that is what we wanted.
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 404 && status !== 409) throw error;
    }
  }
  return removed;
}

/**
 * Remove the containers a previous run of this worker left behind (a crash or a hard restart skips the runner's
 * own cleanup). Call it when the worker starts, before it takes jobs: it removes every container labelled with
 * this `workerId`, running or not, so two live workers must never share an id. Resolves with the removed ids.
 */
export async function sweepOrphanContainers(target: { readonly docker: Dockerode; readonly workerId: string }): Promise<string[]> {
  const containers = await target.docker.listContainers({
    all: true,
    filters: { label: [`${RUNNER_LABEL}=docker`, `${WORKER_LABEL}=${target.workerId}`] },
  });
  return removeAll(target.docker, containers.map((info) => info.Id));
}

/**
 * Remove the task containers, running or not, whose worker process is dead (`io.sluice.worker.process`, see
 * worker-process.ts): a worker killed with SIGKILL leaves its containers running, and the engine would run them to
 * their end while the task is delivered again to another worker. Any worker may call it, at start and then every
 * few seconds: it judges only the containers of worker processes of its own kernel and PID namespace, and leaves
 * the others (other machines, other PID namespaces, earlier boots, containers without the label) alone.
 * `self` is this process (tests pass another one). Resolves with the removed ids.
 */
export async function sweepDeadWorkerContainers(target: {
  readonly docker: Dockerode;
  readonly self?: WorkerProcessIdentity;
}): Promise<string[]> {
  const self = target.self ?? currentProcessIdentity();
  if (!self) return [];
  const containers = await target.docker.listContainers({
    all: true,
    filters: { label: [`${RUNNER_LABEL}=docker`, WORKER_PROCESS_LABEL] },
  });
  const dead = containers.filter((info) => {
    const identity = parseProcessIdentity(info.Labels?.[WORKER_PROCESS_LABEL] ?? '');
    return identity !== undefined && processLiveness(identity, self) === 'dead';
  });
  return removeAll(target.docker, dead.map((info) => info.Id));
}

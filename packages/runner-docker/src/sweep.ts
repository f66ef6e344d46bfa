import type Dockerode from 'dockerode';
import { RUNNER_LABEL, WORKER_LABEL } from './container-spec.js';

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
  const removed: string[] = [];
  for (const info of containers) {
    try {
      await target.docker.getContainer(info.Id).remove({ force: true, v: true });
      removed.push(info.Id);
    } catch (error) {
      // Already gone (removed concurrently): that is what we wanted.
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
  }
  return removed;
}

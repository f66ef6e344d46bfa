import { runnerConformance } from '@sluice/plugin-api/testing';
import { describeWithDocker } from '@sluice/testing';
import { createDockerRunner, RUNNER_LABEL, WORKER_LABEL } from '@sluice/runner-docker';

const workerId = `conformance-${process.pid}`;

describeWithDocker('DOCKER runner', (env) => {
  runnerConformance('DOCKER', async () => ({
    runner: createDockerRunner({ socketPath: env.socketPath, workerId }),
    image: env.busyboxImage,
    options: { networkMode: 'none' },
    async leftovers() {
      const containers = await env.docker.listContainers({
        all: true,
        filters: { label: [`${RUNNER_LABEL}=docker`, `${WORKER_LABEL}=${workerId}`] },
      });
      return containers.map((c) => `container ${c.Id.slice(0, 12)} (${c.State}: ${c.Status})`);
    },
  }));
});

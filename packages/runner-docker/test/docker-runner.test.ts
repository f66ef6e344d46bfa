// The DOCKER runner against the real engine and the real private registry of scripts/services.sh.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import type { Runner, RunnerCommand, RunnerResult } from '@sluice/plugin-api';
import { describeWithDocker } from '@sluice/testing';
import type { DockerTestEnv } from '@sluice/testing';
import { createDockerRunner, dockerRunner, RUNNER_LABEL, sweepOrphanContainers, WORKER_LABEL } from '@sluice/runner-docker';

const workerId = `docker-test-${process.pid}`;

interface Captured {
  result: RunnerResult;
  stdout: string[];
  stderr: string[];
}

async function containersOf(docker: Dockerode, worker: string): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`${RUNNER_LABEL}=docker`, `${WORKER_LABEL}=${worker}`] } });
}

async function removeImage(docker: Dockerode, image: string): Promise<void> {
  try {
    await docker.getImage(image).remove();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
}

async function isImagePresent(docker: Dockerode, image: string): Promise<boolean> {
  try {
    await docker.getImage(image).inspect();
    return true;
  } catch {
    return false;
  }
}

async function isContainerGone(docker: Dockerode, id: string): Promise<boolean> {
  try {
    await docker.getContainer(id).inspect();
    return false;
  } catch (error) {
    return (error as { statusCode?: number }).statusCode === 404;
  }
}

describeWithDocker('DOCKER runner on a real engine', (env: DockerTestEnv) => {
  let runner: Runner;
  let workingDirectory: string;
  const registryConfig = (password: string, key = `http://${env.registry.host}/v1/`): string =>
    // The seed's form: config.json text with `{{ }}` already rendered.
    `{
      "auths": {
        "${key}": {
          "username": "${env.registry.user}",
          "password": "${password}"
        }
      }
    }`;

  const run = async (
    command: Partial<RunnerCommand> & { commands: readonly string[] },
    signal: AbortSignal = new AbortController().signal,
    onStdout?: (line: string) => void,
    target: Runner = runner,
  ): Promise<Captured> => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    const result = await target.run(
      { image: env.busyboxImage, workingDirectory, ...command, options: { networkMode: 'none', ...command.options } },
      {
        onStdout: (line) => {
          stdout.push(line);
          onStdout?.(line);
        },
        onStderr: (line) => stderr.push(line),
      },
      signal,
    );
    return { result, stdout, stderr };
  };

  /** Runs `hostname` (the container id) then sleeps; inspects the container while it runs, then aborts. */
  const inspectWhileRunning = async (
    command: Partial<RunnerCommand>,
    target: Runner = runner,
  ): Promise<{ info: Dockerode.ContainerInspectInfo; id: string }> => {
    const controller = new AbortController();
    let seen: Promise<{ info: Dockerode.ContainerInspectInfo; id: string }> | undefined;
    const running = run(
      { ...command, commands: ['hostname', 'sleep 1000'] },
      controller.signal,
      (line) => {
        seen ??= (async () => {
          try {
            // The container's host name is its short id. (`listContainers` may not list it as running yet.)
            const info = await env.docker.getContainer(line).inspect();
            return { info, id: info.Id };
          } finally {
            controller.abort(new Error('inspected'));
          }
        })();
      },
      target,
    );
    await expect(running).rejects.toThrow('inspected');
    return seen!;
  };

  beforeAll(async () => {
    runner = createDockerRunner({ socketPath: env.socketPath, workerId, labels: { 'org.example.team': 'data' } });
  });
  beforeEach(async () => {
    workingDirectory = await mkdtemp(join(tmpdir(), 'sluice-docker-'));
  });
  afterEach(async () => {
    expect(await containersOf(env.docker, workerId), 'containers left behind').toEqual([]);
    await rm(workingDirectory, { recursive: true, force: true });
  });
  afterAll(async () => {
    await removeImage(env.docker, env.registry.image);
  });

  it('is built by the registered definition from worker options', async () => {
    const fromDefinition = dockerRunner.create!({ socketPath: env.socketPath, workerId });
    const { stdout } = await run({ commands: ['echo via definition'] }, undefined, undefined, fromDefinition);
    expect(stdout).toEqual(['via definition']);
  });

  it('pulls a private image with config.json auths given as text (the seed form), IF_NOT_PRESENT by default', async () => {
    await removeImage(env.docker, env.registry.image);
    const { result, stdout } = await run({
      image: env.registry.image,
      commands: ['echo pulled'],
      options: { config: registryConfig(env.registry.password) },
    });
    expect(result.exitCode).toBe(0);
    expect(stdout).toEqual(['pulled']);
    expect(await isImagePresent(env.docker, env.registry.image)).toBe(true);
    // Present now: IF_NOT_PRESENT does not contact the registry, so no credentials are needed.
    const again = await run({ image: env.registry.image, commands: ['echo cached'] });
    expect(again.stdout).toEqual(['cached']);
  });

  it('pulls with config.json auths as a mapping with a base64 auth and a bare host:port key', async () => {
    await removeImage(env.docker, env.registry.image);
    const auth = Buffer.from(`${env.registry.user}:${env.registry.password}`).toString('base64');
    const { stdout } = await run({
      image: env.registry.image,
      commands: ['echo ok'],
      options: { config: { auths: { 'other.example.com': { auth: 'bm9wZTpub3Bl' }, [env.registry.host]: { auth } } } },
    });
    expect(stdout).toEqual(['ok']);
  });

  it('pulls with credentials', async () => {
    await removeImage(env.docker, env.registry.image);
    const { stdout } = await run({
      image: env.registry.image,
      commands: ['echo ok'],
      options: {
        pullPolicy: 'ALWAYS',
        credentials: { registry: `https://${env.registry.host}`, username: env.registry.user, password: env.registry.password },
      },
    });
    expect(stdout).toEqual(['ok']);
  });

  it('ALWAYS pulls even when the image is present: a wrong password is SLU_RUNNER_REGISTRY_AUTH_FAILED', async () => {
    await run({ image: env.registry.image, commands: ['true'], options: { config: registryConfig(env.registry.password) } });
    expect(await isImagePresent(env.docker, env.registry.image)).toBe(true);
    const running = run({
      image: env.registry.image,
      commands: ['echo never'],
      options: { pullPolicy: 'ALWAYS', config: registryConfig('wrong-password') },
    });
    await expect(running).rejects.toMatchObject({
      code: 'SLU_RUNNER_REGISTRY_AUTH_FAILED',
      params: { registry: env.registry.host, image: env.registry.image },
    });
    await expect(running).rejects.toThrow(env.registry.host);
    await expect(running).rejects.not.toThrow('wrong-password');
  });

  it('a private image without credentials is SLU_RUNNER_REGISTRY_AUTH_FAILED naming the registry', async () => {
    await removeImage(env.docker, env.registry.image);
    await expect(run({ image: env.registry.image, commands: ['true'] })).rejects.toMatchObject({
      code: 'SLU_RUNNER_REGISTRY_AUTH_FAILED',
      params: { registry: env.registry.host },
    });
  });

  it('NEVER with an absent image is SLU_RUNNER_IMAGE_PULL_FAILED saying so; NEVER with a present image runs', async () => {
    await removeImage(env.docker, env.registry.image);
    const running = run({ image: env.registry.image, commands: ['true'], options: { pullPolicy: 'NEVER', config: registryConfig(env.registry.password) } });
    await expect(running).rejects.toMatchObject({ code: 'SLU_RUNNER_IMAGE_PULL_FAILED', params: { image: env.registry.image } });
    await expect(running).rejects.toThrow(/NEVER/);
    expect(await isImagePresent(env.docker, env.registry.image)).toBe(false);
    const { stdout } = await run({ commands: ['echo local'], options: { pullPolicy: 'NEVER' } });
    expect(stdout).toEqual(['local']);
  });

  it('an unknown image is SLU_RUNNER_IMAGE_PULL_FAILED naming it', async () => {
    const image = `${env.registry.host}/sluice/does-not-exist:1`;
    const running = run({ image, commands: ['true'], options: { config: registryConfig(env.registry.password) } });
    await expect(running).rejects.toMatchObject({ code: 'SLU_RUNNER_IMAGE_PULL_FAILED', params: { image } });
    await expect(running).rejects.toThrow(image);
  });

  it('an unreachable registry is SLU_RUNNER_IMAGE_PULL_FAILED', async () => {
    const image = '127.0.0.1:1/sluice/busybox:1';
    await expect(run({ image, commands: ['true'] })).rejects.toMatchObject({ code: 'SLU_RUNNER_IMAGE_PULL_FAILED', params: { image } });
  });

  it('an unreachable engine is SLU_RUNNER_ENGINE_UNAVAILABLE naming it and suggesting PROCESS', async () => {
    const socketPath = join(workingDirectory, 'no-such-docker.sock');
    const offline = createDockerRunner({ socketPath, workerId });
    const running = run({ commands: ['true'] }, undefined, undefined, offline);
    await expect(running).rejects.toMatchObject({ code: 'SLU_RUNNER_ENGINE_UNAVAILABLE', params: { host: `unix://${socketPath}` } });
    await expect(running).rejects.toThrow(/runner: PROCESS/);
  });

  it('an interpreter missing from the image is SLU_RUNNER_START_FAILED, and the container is removed', async () => {
    await expect(run({ interpreter: ['/bin/bash', '-c'], commands: ['true'] })).rejects.toMatchObject({
      code: 'SLU_RUNNER_START_FAILED',
    });
  });

  it('sets env, user and the working directory', async () => {
    const { stdout } = await run({
      commands: ['echo "$A|$B"', 'id -u', 'id -g', 'pwd'],
      env: { A: 'a value', B: 'ünï' },
      options: { user: '65534:65534' },
    });
    expect(stdout).toEqual(['a value|ünï', '65534', '65534', workingDirectory]);
  });

  it('applies networkMode none and host', async () => {
    const none = await run({ commands: ['ls /sys/class/net'], options: { networkMode: 'none' } });
    expect(none.stdout).toEqual(['lo']);
    const host = await run({ commands: ['ls /sys/class/net'], options: { networkMode: 'host' } });
    expect(host.stdout.sort()).toEqual((await readdir('/sys/class/net')).sort());
  });

  it('creates the container as specified: limits, labels, mounts, no entrypoint, not a TTY', async () => {
    const { info } = await inspectWhileRunning({
      env: { X: '1' },
      options: { networkMode: 'none', memory: { memory: '64m' }, cpu: { cpus: 0.5 }, user: '65534' },
    });
    expect(info.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.HostConfig.Binds).toEqual([`${workingDirectory}:${workingDirectory}`]);
    expect(info.Config.Labels).toMatchObject({ [RUNNER_LABEL]: 'docker', [WORKER_LABEL]: workerId, 'org.example.team': 'data' });
    expect(info.Config.WorkingDir).toBe(workingDirectory);
    expect(info.Config.User).toBe('65534');
    expect(info.Config.Env).toContain('X=1');
    expect(info.Config.Tty).toBe(false);
    expect(info.Config.Entrypoint ?? []).toEqual([]);
    expect(info.Config.Cmd).toEqual(['/bin/sh', '-c', 'hostname\nsleep 1000']);
  });

  it('ignores the image entrypoint by default, as Kestra (entryPoint [""])', async () => {
    const image = `sluice-test/entrypoint:${process.pid}`;
    const base = await env.docker.createContainer({ Image: env.busyboxImage, Cmd: ['true'], NetworkDisabled: true });
    try {
      await base.commit({ repo: image.split(':')[0], tag: image.split(':')[1], changes: 'ENTRYPOINT ["/bin/echo", "from-entrypoint"]' });
    } finally {
      await base.remove({ force: true });
    }
    try {
      const { stdout } = await run({ image, commands: ['echo from-command'] });
      expect(stdout).toEqual(['from-command']);
      const withEntrypoint = await run({ image, commands: ['x'], options: { entryPoint: ['/bin/echo', 'entry:'] } });
      expect(withEntrypoint.stdout).toEqual([`entry: /bin/sh -c x`]);
    } finally {
      await removeImage(env.docker, image);
    }
  });

  it('removes the container after a kill and after a failing command', async () => {
    const killed = await inspectWhileRunning({});
    expect(await isContainerGone(env.docker, killed.id)).toBe(true);

    let id = '';
    const failed = await run({ commands: ['hostname', 'exit 5'] }, undefined, (line) => (id ||= line));
    expect(failed.result.exitCode).toBe(5);
    expect(await isContainerGone(env.docker, id)).toBe(true);
  });

  it('kills with SIGTERM first when killGracePeriod is set, and still removes the container', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const reason = new Error('stop please');
    const running = run(
      {
        commands: ["trap 'echo TERM > term.txt; exit 0' TERM", 'echo ready', 'while true; do sleep 0.1; done'],
        options: { killGracePeriod: 'PT5S' },
      },
      controller.signal,
      (line) => line === 'ready' && controller.abort(reason),
    );
    await expect(running).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await readFile(join(workingDirectory, 'term.txt'), 'utf8')).toBe('TERM\n');
  });

  it('sweeps the containers of a previous run of this worker, and only those', async () => {
    const create = (worker: string) =>
      env.docker.createContainer({
        Image: env.busyboxImage,
        Cmd: ['sleep', '1000'],
        Labels: { [RUNNER_LABEL]: 'docker', [WORKER_LABEL]: worker },
        HostConfig: { NetworkMode: 'none' },
      });
    const orphanWorker = `${workerId}-crashed`;
    const otherWorker = `${workerId}-other`;
    const running = await create(orphanWorker);
    await running.start();
    const stopped = await create(orphanWorker);
    const other = await create(otherWorker);
    try {
      const removed = await sweepOrphanContainers({ docker: env.docker, workerId: orphanWorker });
      expect(removed.sort()).toEqual([running.id, stopped.id].sort());
      expect(await containersOf(env.docker, orphanWorker)).toEqual([]);
      expect((await containersOf(env.docker, otherWorker)).map((c) => c.Id)).toEqual([other.id]);
    } finally {
      await other.remove({ force: true });
    }
  });
});

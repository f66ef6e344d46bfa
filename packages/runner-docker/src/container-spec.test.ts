import { describe, expect, it } from 'vitest';
import { parseByteSize } from './byte-size.js';
import { readCommandOptions } from './command-options.js';
import { buildContainerSpec, buildScript, RUNNER_LABEL, WORKER_LABEL } from './container-spec.js';
import { formatProcessIdentity, parseProcessIdentity, WORKER_PROCESS_LABEL } from './worker-process.js';

const command = { commands: ['echo hi'], workingDirectory: '/tmp/wd' };

describe('buildScript', () => {
  it('joins set -e, beforeCommands and commands', () => {
    expect(buildScript({ ...command, failFast: true, beforeCommands: ['cd x'] })).toBe('set -e\ncd x\necho hi');
    expect(buildScript(command)).toBe('echo hi');
  });
});

describe('buildContainerSpec', () => {
  it('has Kestra defaults: /bin/sh -c, no entrypoint, the engine default network, the working directory mounted', () => {
    const spec = buildContainerSpec({ command, image: 'busybox', options: readCommandOptions({}), workerId: 'w1' });
    expect(spec).toMatchObject({
      Image: 'busybox',
      Cmd: ['/bin/sh', '-c', 'echo hi'],
      Entrypoint: [],
      WorkingDir: '/tmp/wd',
      Env: [],
      Tty: false,
      Labels: { [RUNNER_LABEL]: 'docker', [WORKER_LABEL]: 'w1' },
      HostConfig: { Binds: ['/tmp/wd:/tmp/wd'] },
    });
    expect(spec.HostConfig?.NetworkMode).toBeUndefined();
    expect(spec.User).toBeUndefined();
  });

  it('names the worker process in a label that reads back (the dead-worker sweep judges by it)', () => {
    const workerProcess = { pid: 4242, startTime: '123456', bootId: '2b83e402-16c4-43e9-8128-bd23aefec800', pidNamespace: '4026531836', host: 'vm-1' };
    const spec = buildContainerSpec({ command, image: 'busybox', options: readCommandOptions({}), workerId: 'w1', workerProcess });
    expect(spec.Labels?.[WORKER_PROCESS_LABEL]).toBe('pid=4242 start=123456 boot=2b83e402-16c4-43e9-8128-bd23aefec800 pidns=4026531836 host=vm-1');
    expect(parseProcessIdentity(formatProcessIdentity(workerProcess))).toEqual(workerProcess);
    expect(parseProcessIdentity('pid=x start=1 boot=b pidns=2')).toBeUndefined();
    expect(buildContainerSpec({ command, image: 'busybox', options: readCommandOptions({}), workerId: 'w1' }).Labels).not.toHaveProperty(WORKER_PROCESS_LABEL);
  });

  it('maps the task options', () => {
    const options = readCommandOptions({
      user: '1000:1000',
      entryPoint: ['/entry.sh'],
      networkMode: 'host',
      cpu: { cpus: '1.5' },
      memory: { memory: '512m', memorySwap: '-1', memoryReservation: '256MB', memorySwappiness: '10', oomKillDisable: true },
      shmSize: '1g',
      extraHosts: ['db:10.0.0.1'],
      deviceRequests: [{ driver: 'nvidia', count: -1, capabilities: [['gpu']] }],
    });
    const spec = buildContainerSpec({
      command: { ...command, interpreter: ['/bin/bash', '-c'], env: { A: 'x=y' } },
      image: 'img',
      options,
      workerId: 'w',
      labels: { [WORKER_LABEL]: 'spoofed', team: 'data' },
      defaultNetworkMode: 'none',
    });
    expect(spec).toMatchObject({
      Cmd: ['/bin/bash', '-c', 'echo hi'],
      Entrypoint: ['/entry.sh'],
      User: '1000:1000',
      Env: ['A=x=y'],
      Labels: { team: 'data', [WORKER_LABEL]: 'w' },
      HostConfig: {
        NetworkMode: 'host',
        NanoCpus: 1_500_000_000,
        Memory: 512 * 1024 ** 2,
        MemorySwap: -1,
        MemoryReservation: 256 * 1024 ** 2,
        MemorySwappiness: 10,
        OomKillDisable: true,
        ShmSize: 1024 ** 3,
        ExtraHosts: ['db:10.0.0.1'],
        DeviceRequests: [{ Driver: 'nvidia', Count: -1, DeviceIDs: [], Capabilities: [['gpu']], Options: {} }],
      },
    });
  });

  it('uses the worker default network mode when the task sets none', () => {
    const spec = buildContainerSpec({ command, image: 'i', options: readCommandOptions({}), workerId: 'w', defaultNetworkMode: 'none' });
    expect(spec.HostConfig?.NetworkMode).toBe('none');
  });

  it('refuses volumes unless the worker enables them', () => {
    const options = readCommandOptions({ volumes: ['/data:/data'] });
    expect(() => buildContainerSpec({ command, image: 'i', options, workerId: 'w' })).toThrow(/volumes are disabled/);
    expect(buildContainerSpec({ command, image: 'i', options, workerId: 'w', volumesEnabled: true }).HostConfig?.Binds).toEqual([
      '/tmp/wd:/tmp/wd',
      '/data:/data',
    ]);
  });
});

describe('readCommandOptions', () => {
  it('defaults the pull policy to IF_NOT_PRESENT and reads killGracePeriod', () => {
    expect(readCommandOptions({}).pullPolicy).toBe('IF_NOT_PRESENT');
    expect(readCommandOptions({ killGracePeriod: 'PT10S' }).killGracePeriodMs).toBe(10_000);
  });

  it('rejects wrong values with SLU_RUNNER_START_FAILED', () => {
    expect(() => readCommandOptions({ pullPolicy: 'SOMETIMES' })).toThrow(expect.objectContaining({ code: 'SLU_RUNNER_START_FAILED' }));
    expect(() => readCommandOptions({ cpu: { cpus: 0 } })).toThrow(/cpus/);
    expect(() => readCommandOptions({ entryPoint: 'sh' })).toThrow(/entryPoint/);
  });
});

describe('parseByteSize', () => {
  it.each([
    ['512m', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1.5G', 1.5 * 1024 ** 3],
    ['100k', 102_400],
    ['64MiB', 64 * 1024 ** 2],
    ['1024', 1024],
    [2048, 2048],
  ])('%s → %d bytes', (text, bytes) => {
    expect(parseByteSize(text, 'memory')).toBe(bytes);
  });

  it('names the option when the size is invalid', () => {
    expect(() => parseByteSize('lots', 'memory.memory')).toThrow(/memory\.memory "lots"/);
  });
});

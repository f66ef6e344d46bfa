import { afterEach, describe, expect, it, vi } from 'vitest';
import type * as DockerModule from './docker.js';

// Each case imports a fresh copy of the module: the probe result is cached per module instance.
async function freshModule(): Promise<typeof DockerModule> {
  vi.resetModules();
  return import('./docker.js');
}

describe('docker fixtures', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('names what is missing and how to start it when services are required', async () => {
    vi.stubEnv('SLUICE_TEST_DOCKER_SOCKET', '/nonexistent/docker.sock');
    vi.stubEnv('SLUICE_REQUIRE_SERVICES', '1');
    const { dockerTestEnv, requireDocker } = await freshModule();
    await expect(dockerTestEnv()).rejects.toThrow(/Docker engine at \/nonexistent\/docker\.sock[\s\S]*scripts\/services\.sh/);
    await expect(requireDocker()).rejects.toThrow(/does not answer/);
  });

  it('returns undefined (the caller skips) when services are not required', async () => {
    vi.stubEnv('SLUICE_TEST_DOCKER_SOCKET', '/nonexistent/docker.sock');
    vi.stubEnv('SLUICE_REQUIRE_SERVICES', '0');
    const { dockerTestEnv, requireDocker } = await freshModule();
    await expect(dockerTestEnv()).resolves.toBeUndefined();
    await expect(requireDocker()).rejects.toThrow(/services\.sh/);
  });

  it('reports a missing test image and a registry that does not answer', async () => {
    vi.stubEnv('SLUICE_TEST_BUSYBOX_IMAGE', 'sluice-test/not-built:0');
    vi.stubEnv('SLUICE_TEST_REGISTRY', '127.0.0.1:1');
    const { dockerTestEnv, requireDocker } = await freshModule();
    // Only meaningful where the engine runs; without it the engine is the first (and only) thing reported.
    const error = await requireDocker().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/Docker engine|sluice-test\/not-built:0[\s\S]*127\.0\.0\.1:1/);
    vi.stubEnv('SLUICE_REQUIRE_SERVICES', '0');
    await expect(dockerTestEnv()).resolves.toBeUndefined();
  });
});

describe('with the services of scripts/services.sh', async () => {
  vi.resetModules();
  const { dockerTestEnv } = await import('./docker.js');
  const env = await dockerTestEnv({ python: true });

  it.skipIf(!env)('gives the engine, the images and the registry', async () => {
    expect(await env!.docker.ping()).toBeTruthy();
    expect((await env!.docker.getImage(env!.busyboxImage).inspect()).Id).toMatch(/^sha256:/);
    expect(env!.registry).toMatchObject({ host: '127.0.0.1:5000', user: 'sluice', image: '127.0.0.1:5000/sluice/busybox:1' });
  });
});

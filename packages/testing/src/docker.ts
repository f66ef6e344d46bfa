/**
 * Docker fixtures: the engine, the busybox test image and the private registry that `scripts/services.sh` starts.
 *
 * - `dockerTestEnv()` probes once per test file and returns the environment, or `undefined` when something is
 *   missing and `SLUICE_REQUIRE_SERVICES` is not `1` (a developer machine without Docker: the caller skips).
 *   With `SLUICE_REQUIRE_SERVICES=1` (CI, `scripts/test.sh`) a missing service throws a loud error that names it and
 *   says how to start it: tests fail, they never skip silently.
 * - `requireDocker()` always throws when something is missing.
 * - `describeWithDocker(name, factory)` registers the suite with the environment, or one skipped test that says
 *   what is missing.
 *
 * Defaults match `scripts/services.sh`; override them with `SLUICE_TEST_DOCKER_SOCKET` (or `DOCKER_HOST=unix://...`),
 * `SLUICE_TEST_BUSYBOX_IMAGE`, `SLUICE_TEST_PYTHON_IMAGE`, `SLUICE_TEST_REGISTRY`, `SLUICE_TEST_REGISTRY_USER` and
 * `SLUICE_TEST_REGISTRY_PASSWORD`. This package is dev-only, so it may read the environment.
 */
import Dockerode from 'dockerode';
import { describe, it } from 'vitest';

export interface DockerTestEnv {
  readonly docker: Dockerode;
  /** The engine's unix socket. */
  readonly socketPath: string;
  /** A local busybox image with sh, sleep, cat, seq, head, tr, wc, printf (never pulled: built by services.sh). */
  readonly busyboxImage: string;
  /** A local Debian image with python3 (`services.sh --python`); checked only with `{ python: true }`. */
  readonly pythonImage: string;
  readonly registry: {
    /** `host:port` of the private registry (basic auth, plain HTTP on loopback). */
    readonly host: string;
    readonly user: string;
    readonly password: string;
    /** An image stored only in that registry (`<host>/sluice/busybox:1`), not tagged locally. */
    readonly image: string;
  };
}

export interface DockerTestEnvOptions {
  /** Also require the python image (`bash scripts/services.sh --python`). */
  readonly python?: boolean;
}

const startHint = 'start them with `sudo bash scripts/services.sh`';

function configuredEnv(): Omit<DockerTestEnv, 'docker'> {
  const env = process.env;
  const dockerHost = env.DOCKER_HOST?.startsWith('unix://') ? env.DOCKER_HOST.slice('unix://'.length) : undefined;
  const host = env.SLUICE_TEST_REGISTRY ?? '127.0.0.1:5000';
  return {
    socketPath: env.SLUICE_TEST_DOCKER_SOCKET ?? dockerHost ?? '/var/run/docker.sock',
    busyboxImage: env.SLUICE_TEST_BUSYBOX_IMAGE ?? 'sluice-test/busybox:1',
    pythonImage: env.SLUICE_TEST_PYTHON_IMAGE ?? 'sluice-test/python:3',
    registry: {
      host,
      user: env.SLUICE_TEST_REGISTRY_USER ?? 'sluice',
      password: env.SLUICE_TEST_REGISTRY_PASSWORD ?? 'sluice-pass',
      image: `${host}/sluice/busybox:1`,
    },
  };
}

async function registryStatus(host: string, authorization?: string): Promise<number | string> {
  try {
    const response = await fetch(`http://${host}/v2/`, {
      headers: authorization ? { authorization } : {},
      signal: AbortSignal.timeout(3000),
    });
    await response.body?.cancel();
    return response.status;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** What is missing, one line each (empty when everything answers). */
async function probe(env: DockerTestEnv, options: DockerTestEnvOptions): Promise<string[]> {
  try {
    await env.docker.ping();
  } catch (error) {
    return [`the Docker engine at ${env.socketPath} does not answer (${(error as Error).message})`];
  }
  const missing: string[] = [];
  const images = [env.busyboxImage, ...(options.python ? [env.pythonImage] : [])];
  for (const image of images) {
    try {
      await env.docker.getImage(image).inspect();
    } catch {
      missing.push(`the test image ${image} is not on the engine`);
    }
  }
  const basic = `Basic ${Buffer.from(`${env.registry.user}:${env.registry.password}`).toString('base64')}`;
  const anonymous = await registryStatus(env.registry.host);
  const authenticated = await registryStatus(env.registry.host, basic);
  if (anonymous !== 401 || authenticated !== 200) {
    missing.push(
      `the registry at ${env.registry.host} with basic auth for ${env.registry.user} (got ${anonymous} without and ${authenticated} with credentials; want 401 and 200)`,
    );
  }
  return missing;
}

const cache = new Map<string, Promise<{ env: DockerTestEnv; missing: string[] }>>();

function probed(options: DockerTestEnvOptions): Promise<{ env: DockerTestEnv; missing: string[] }> {
  const key = options.python ? 'python' : 'base';
  let found = cache.get(key);
  if (!found) {
    const configured = configuredEnv();
    const env: DockerTestEnv = { ...configured, docker: new Dockerode({ socketPath: configured.socketPath }) };
    found = probe(env, options).then((missing) => ({ env, missing }));
    cache.set(key, found);
  }
  return found;
}

function missingError(missing: readonly string[]): Error {
  return new Error(`Docker test services are missing:\n  - ${missing.join('\n  - ')}\n${startHint} (add --python for the python image).`);
}

/** True when tests must fail rather than skip when a service is missing (`SLUICE_REQUIRE_SERVICES=1`). */
export function servicesRequired(): boolean {
  return process.env.SLUICE_REQUIRE_SERVICES === '1';
}

/**
 * The Docker test environment, or `undefined` when a service is missing and services are not required (skip).
 * Throws, naming what is missing, when `SLUICE_REQUIRE_SERVICES=1`.
 */
export async function dockerTestEnv(options: DockerTestEnvOptions = {}): Promise<DockerTestEnv | undefined> {
  const { env, missing } = await probed(options);
  if (missing.length === 0) return env;
  if (servicesRequired()) throw missingError(missing);
  return undefined;
}

/** The Docker test environment; throws, naming what is missing and how to start it, when anything is. */
export async function requireDocker(options: DockerTestEnvOptions = {}): Promise<DockerTestEnv> {
  const { env, missing } = await probed(options);
  if (missing.length > 0) throw missingError(missing);
  return env;
}

/**
 * `describe` with the Docker environment. When a service is missing: with `SLUICE_REQUIRE_SERVICES=1` the file
 * fails with the missing-service error; otherwise the suite is one skipped test whose name says what is missing.
 */
export function describeWithDocker(
  name: string,
  factory: (env: DockerTestEnv) => void,
  options: DockerTestEnvOptions = {},
): void {
  describe(name, async () => {
    const { env, missing } = await probed(options);
    if (missing.length === 0) {
      factory(env);
      return;
    }
    if (servicesRequired()) throw missingError(missing);
    it.skip(`needs Docker test services (${startHint}): ${missing.join('; ')}`, () => undefined);
  });
}

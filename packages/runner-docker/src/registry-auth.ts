import { SluiceError } from '@sluice/core';
import { DOCKER_HUB, DOCKER_HUB_AUTH_KEY, normalizeRegistry, parseImageReference } from './image-reference.js';

/** Registry credentials as Kestra's `credentials` property spells them. */
export interface RegistryCredentials {
  readonly registry?: string;
  readonly username?: string;
  readonly password?: string;
  /** base64 of `username:password`. */
  readonly auth?: string;
  readonly registryToken?: string;
  readonly identityToken?: string;
}

/** The engine's AuthConfig (sent base64-encoded in `X-Registry-Auth`). */
export interface DockerAuth {
  readonly serveraddress: string;
  readonly username?: string;
  readonly password?: string;
  readonly identitytoken?: string;
  readonly registrytoken?: string;
}

interface AuthEntry {
  readonly username?: unknown;
  readonly password?: unknown;
  readonly auth?: unknown;
  readonly identitytoken?: unknown;
  readonly registrytoken?: unknown;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function configError(reason: string): SluiceError {
  return new SluiceError('SLU_RUNNER_START_FAILED', { reason: `invalid docker config: ${reason}` });
}

/** The `auths` block of a Docker config.json given as JSON text or as a mapping. Never echoes the content. */
export function readAuths(config: unknown): Readonly<Record<string, AuthEntry>> {
  let parsed = config;
  if (typeof config === 'string') {
    if (config.trim() === '') return {};
    try {
      parsed = JSON.parse(config);
    } catch (error) {
      throw configError(`not valid JSON (${(error as Error).message.replace(/"[^"]*"/g, '…')})`);
    }
  }
  if (parsed === undefined || parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw configError('must be a mapping with `auths`');
  const auths = (parsed as { auths?: unknown }).auths;
  if (auths === undefined) return {};
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) throw configError('`auths` must be a mapping');
  return auths as Record<string, AuthEntry>;
}

function fromEntry(entry: AuthEntry, serveraddress: string): DockerAuth | undefined {
  let username = text(entry.username);
  let password = text(entry.password);
  const encoded = text(entry.auth);
  if (encoded && !username) {
    const decoded = Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw configError(`the \`auth\` for ${serveraddress} is not base64 of "username:password"`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const identitytoken = text(entry.identitytoken);
  const registrytoken = text(entry.registrytoken);
  if (!username && !identitytoken && !registrytoken) return undefined;
  return {
    serveraddress,
    ...(username ? { username, password: password ?? '' } : {}),
    ...(identitytoken ? { identitytoken } : {}),
    ...(registrytoken ? { registrytoken } : {}),
  };
}

/**
 * The credentials to pull `image` with, chosen by the image's registry host, or `undefined` (anonymous pull).
 * `credentials` win over `config`; `credentials` with a `registry` apply only to images of that registry, so a token
 * is never sent to another host. Config keys may be `host`, `host:port`, `https://host` or `http://host/v1/`; Docker
 * Hub images match `https://index.docker.io/v1/` (and `docker.io`, `index.docker.io`).
 */
export function selectRegistryAuth(
  image: string,
  sources: { readonly config?: unknown; readonly credentials?: RegistryCredentials },
): DockerAuth | undefined {
  const { registry } = parseImageReference(image);
  const serveraddress = registry === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : registry;
  const credentials = sources.credentials;
  if (credentials && (!credentials.registry || normalizeRegistry(credentials.registry) === registry)) {
    const auth = fromEntry(
      {
        username: credentials.username,
        password: credentials.password,
        auth: credentials.auth,
        identitytoken: credentials.identityToken,
        registrytoken: credentials.registryToken,
      },
      serveraddress,
    );
    if (auth) return auth;
  }
  const auths = readAuths(sources.config);
  for (const [key, entry] of Object.entries(auths)) {
    if (normalizeRegistry(key) !== registry || typeof entry !== 'object' || entry === null) continue;
    const auth = fromEntry(entry, serveraddress);
    if (auth) return auth;
  }
  return undefined;
}

/** The registry Docker Hub images (those without a registry host) come from, as the engine names it. */
export const DOCKER_HUB = 'docker.io';
/** The key `docker login` writes for Docker Hub in config.json, and the server address the engine expects. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

const hubAliases = new Set([DOCKER_HUB, 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

export interface ImageReference {
  /** `host[:port]`, lower case; `docker.io` for Docker Hub. */
  readonly registry: string;
  /** The repository as the engine pulls it: with its registry host when it has one (`ghcr.io/org/app`, `python`). */
  readonly repository: string;
  /** Tag or digest (`sha256:...`); `latest` when the reference names neither. */
  readonly tag: string;
}

/**
 * Split an image reference the way the Docker CLI does: the first path component is a registry host when it has a
 * dot or a port, or is `localhost`; otherwise the image is on Docker Hub.
 */
export function parseImageReference(image: string): ImageReference {
  let rest = image.trim();
  let tag = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    tag = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  const hasRegistry = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  return { registry: hasRegistry ? normalizeRegistry(first) : DOCKER_HUB, repository: rest, tag };
}

/**
 * The registry a config.json `auths` key or a `credentials.registry` names, in the form `parseImageReference`
 * gives: `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/v2/` → `host:5000`; `Host` → `host`.
 */
export function normalizeRegistry(key: string): string {
  const host = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]!.toLowerCase();
  return hubAliases.has(host) ? DOCKER_HUB : host;
}

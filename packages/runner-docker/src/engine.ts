import { createRequire } from 'node:module';
import type Dockerode from 'dockerode';

// dockerode (and its HTTP, SSH and tar dependencies) is loaded on the first connection, not with the package: the CLI
// reads the runner's schema to validate flows and must not pay for the client at start-up.
const require = createRequire(import.meta.url);
let dockerodeClass: typeof Dockerode | undefined;
function newDockerode(options: Dockerode.DockerOptions): Dockerode {
  dockerodeClass ??= require('dockerode') as typeof Dockerode;
  return new dockerodeClass(options);
}

/** A connection to one Docker engine, with how to name it in errors. */
export interface DockerEngine {
  readonly docker: Dockerode;
  /** `unix:///var/run/docker.sock`, `tcp://host:2375`, ... */
  readonly description: string;
}

export const DEFAULT_SOCKET = '/var/run/docker.sock';

/**
 * Connect to the engine at `host` (`unix:///path`, `tcp://host:port`, `http://host:port`, `https://host:port`) or
 * `socketPath`; default the local socket. Creating the client does not contact the engine.
 * TLS client certificates are not configured here: use a unix socket or a plain tcp endpoint on a trusted network.
 */
export function connectDocker(target: { readonly host?: string; readonly socketPath?: string } = {}): DockerEngine {
  const host = target.host?.trim();
  if (host) {
    if (host.startsWith('unix://')) {
      const socketPath = host.slice('unix://'.length);
      return { docker: newDockerode({ socketPath }), description: host };
    }
    const url = new URL(host.includes('://') ? host : `tcp://${host}`);
    const protocol = url.protocol === 'https:' ? 'https' : 'http';
    const port = url.port || (protocol === 'https' ? '2376' : '2375');
    return {
      docker: newDockerode({ protocol, host: url.hostname, port }),
      description: `${url.protocol}//${url.hostname}:${port}`,
    };
  }
  const socketPath = target.socketPath ?? DEFAULT_SOCKET;
  return { docker: newDockerode({ socketPath }), description: `unix://${socketPath}` };
}

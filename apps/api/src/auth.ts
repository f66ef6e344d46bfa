/**
 * Who may call what (DESIGN.md §4, issue 4 item 6).
 *
 * - User routes (every `/api` path but health and the internal routes): open unless a user credential is configured.
 *   `apiToken` (`Authorization: Bearer <token>`) and/or `basic` (`Authorization: Basic base64(user:password)`); when
 *   both are configured either one is accepted. The worker token is NOT accepted here.
 * - Internal routes (`/api/v1/internal/...`, used by workers): only `Authorization: Bearer <workerToken>`. User
 *   credentials are NOT accepted. Without a worker token the internal routes are not registered at all (404): they are
 *   never open.
 * - Open: `/health`, `/api/v1/health` and `/docs` (the OpenAPI document describes no data), and the webhook route
 *   (`/api/v1[/{tenant}]/executions/webhook/{namespace}/{flowId}/{key}`): its key is the credential (routes/webhook.ts).
 *
 * Every comparison hashes both sides first (SHA-256), so `timingSafeEqual` compares equal lengths and the time taken
 * does not depend on where, or whether, the secrets differ; user name and password are both always compared.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { SluiceError } from '@sluice/core';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

export interface AuthOptions {
  /** Bearer token for user routes (`SLUICE_API_TOKEN`). */
  readonly apiToken?: string;
  /** Basic-auth credentials for user routes (`SLUICE_API_BASIC_AUTH`). */
  readonly basic?: BasicCredentials;
  /** Bearer token for the internal routes only (`SLUICE_WORKER_TOKEN`). */
  readonly workerToken?: string;
}

/** What a request needs, by path. */
export type PathScope = 'open' | 'user' | 'internal';

export const INTERNAL_PREFIX = '/api/v1/internal';

export function isInternalPath(path: string): boolean {
  return path === INTERNAL_PREFIX || path.startsWith(`${INTERNAL_PREFIX}/`);
}

/** The webhook route, as registered (`:namespace`...) or as requested, with or without a tenant segment. */
const WEBHOOK_PATH = /^\/api\/v1\/(?:[^/]+\/)?executions\/webhook\/[^/]+\/[^/]+\/[^/]+$/;

/** Routes that stay open with auth on: health probes carry no data; a webhook's key is its own credential. */
export function isOpenPath(path: string): boolean {
  return path === '/health' || path === '/api/v1/health' || WEBHOOK_PATH.test(path);
}

/** Routes that need a user credential when user auth is on. */
export function isProtectedPath(path: string): boolean {
  return (path === '/api' || path.startsWith('/api/')) && !isOpenPath(path) && !isInternalPath(path);
}

export function pathScope(path: string): PathScope {
  if (isInternalPath(path)) return 'internal';
  return isProtectedPath(path) ? 'user' : 'open';
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function same(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

function bearerOf(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '')?.[1];
}

function basicOf(authorization: string | undefined): BasicCredentials | undefined {
  const encoded = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization?.trim() ?? '')?.[1];
  if (encoded === undefined) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** A rejected request: the error and the `WWW-Authenticate` challenge to answer with. */
export class Unauthorized extends Error {
  constructor(
    readonly error: SluiceError,
    readonly challenge: string,
  ) {
    super(error.message);
  }
}

export interface Auth {
  /** Whether user routes need a credential. */
  readonly userAuth: boolean;
  /** Whether internal routes exist (a worker token is configured). */
  readonly internalEnabled: boolean;
  /** Throws {@link Unauthorized} unless `authorization` carries a credential valid for `scope`. */
  check(scope: PathScope, authorization: string | undefined): void;
}

export function createAuth(options: AuthOptions): Auth {
  const apiToken = options.apiToken ? digest(options.apiToken) : undefined;
  const basic = options.basic ? { username: digest(options.basic.username), password: digest(options.basic.password) } : undefined;
  const workerToken = options.workerToken ? digest(options.workerToken) : undefined;

  const userExpected = [apiToken ? '"Authorization: Bearer <token>"' : '', basic ? 'basic auth credentials' : ''].filter(Boolean).join(' or ');
  const userChallenge = [apiToken ? 'Bearer' : '', basic ? 'Basic realm="sluice", charset="UTF-8"' : ''].filter(Boolean).join(', ');

  function userOk(authorization: string | undefined): boolean {
    const token = bearerOf(authorization);
    if (token !== undefined) return apiToken !== undefined && same(token, apiToken);
    const credentials = basicOf(authorization);
    if (credentials === undefined || basic === undefined) return false;
    // Both compared, always: `&` does not short-circuit.
    return (Number(same(credentials.username, basic.username)) & Number(same(credentials.password, basic.password))) === 1;
  }

  return {
    userAuth: apiToken !== undefined || basic !== undefined,
    internalEnabled: workerToken !== undefined,
    check(scope, authorization) {
      if (scope === 'open') return;
      if (scope === 'internal') {
        const token = bearerOf(authorization);
        if (workerToken !== undefined && token !== undefined && same(token, workerToken)) return;
        throw new Unauthorized(
          new SluiceError('SLU_API_UNAUTHORIZED', { expected: '"Authorization: Bearer <worker token>" (SLUICE_WORKER_TOKEN)' }, { scope: 'internal' }),
          'Bearer realm="sluice-worker"',
        );
      }
      if (apiToken === undefined && basic === undefined) return;
      if (userOk(authorization)) return;
      throw new Unauthorized(new SluiceError('SLU_API_UNAUTHORIZED', { expected: userExpected }, { scope: 'user' }), userChallenge);
    },
  };
}

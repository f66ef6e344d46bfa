/**
 * The API's configuration, read from the environment once (DESIGN.md §5b). Nothing else in apps/api reads
 * `process.env`; everything below it takes options.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `PORT` | 8080 | HTTP port |
 * | `SLUICE_API_HOST` | 127.0.0.1 | interface to listen on: loopback by default, because auth is off unless a credential is set; `0.0.0.0` in a container |
 * | `DATABASE_URL` | (required) | Postgres |
 * | `SLUICE_API_TOKEN` | (none) | user auth: every `/api` route accepts `Authorization: Bearer <token>` |
 * | `SLUICE_API_BASIC_AUTH` | (none) | user auth: `user:password` (split at the first colon); every `/api` route accepts `Authorization: Basic ...` |
 * | `SLUICE_API_BASIC_AUTH_USERNAME`, `SLUICE_API_BASIC_AUTH_PASSWORD` | (none) | the same as two variables (Kestra's `basic-auth.username`/`password`); not together with `SLUICE_API_BASIC_AUTH` |
 * | `SLUICE_WORKER_TOKEN` | (none) | the workers' bearer token, accepted ONLY on `/api/v1/internal/...` (internal storage); unset → those routes do not exist (404) |
 * | `SLUICE_API_BODY_LIMIT` | 5242880 | largest request body (YAML) in bytes |
 * | `SLUICE_API_UPLOAD_LIMIT` | 1073741824 | largest uploaded file in bytes (FILE inputs, worker uploads to the internal storage) |
 * | `SLUICE_PUBLIC_URL` | (none) | where users reach Sluice (`https://sluice.example.com`): a created execution's JSON carries Kestra's `url`, `{publicUrl}/ui/{tenant}/executions/{namespace}/{flowId}/{id}`; an http(s) URL |
 * | `SLUICE_WEBHOOK_RATE_LIMIT` | (none) | calls a webhook answers per flow and key: `N` (per minute), `N/second` or `N/minute`; over it, 429 with `Retry-After` (counted per API process) |
 * | `SLUICE_UI_DIR` | the `@sluice/ui` package's `dist/` | the built web UI, served at `/ui/` (ui.ts); `off` serves no UI (`/` and `/ui/` are then 404s) |
 * | `SLUICE_TENANT` | main | the tenant of Kestra 1.x paths: every public route is served as `/api/v1/{tenant}/...` and as `/api/v1/...`; another tenant is a 404 (tenant.ts) |
 *
 * Auth is off when neither `SLUICE_API_TOKEN` nor basic credentials are set. When on, it covers every `/api` route
 * except `/api/v1/health`; `/health` and the OpenAPI document at `/docs` stay open. When both a token and basic
 * credentials are set, either is accepted. User credentials are never accepted on the internal routes, and the worker
 * token never on user routes.
 */
import { parseRateLimit } from './rate-limit.js';
import type { RateLimit } from './rate-limit.js';
import { DEFAULT_TENANT, tenantProblem } from './tenant.js';

export interface ApiEnv {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  /** BullMQ (Redis): where executions are handed to the scheduler. */
  readonly redisUrl: string | undefined;
  /** Internal storage root. Default `./.sluice/storage`. */
  readonly storageDir: string;
  readonly apiToken: string | undefined;
  readonly basicAuth: { readonly username: string; readonly password: string } | undefined;
  readonly workerToken: string | undefined;
  readonly bodyLimit: number;
  readonly uploadLimit: number;
  /** The one tenant served under `/api/v1/{tenant}/...` (Kestra 1.x paths). Default `main`. */
  readonly tenant: string;
  /** `SLUICE_PUBLIC_URL` without its trailing `/`: created executions carry their `url` under it. */
  readonly publicUrl: string | undefined;
  /** `SLUICE_WEBHOOK_RATE_LIMIT`: calls a webhook answers per flow and key; undefined: no limit. */
  readonly webhookRateLimit: RateLimit | undefined;
  /** `SLUICE_UI_DIR`: the built UI's folder; undefined: the `@sluice/ui` package's; false: no UI. */
  readonly uiDir: string | false | undefined;
}

function positiveInteger(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`${name} must be an integer between 1 and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function secret(raw: string | undefined): string | undefined {
  return raw === undefined || raw === '' ? undefined : raw;
}

function basicAuth(env: NodeJS.ProcessEnv): ApiEnv['basicAuth'] {
  const combined = secret(env.SLUICE_API_BASIC_AUTH);
  const username = secret(env.SLUICE_API_BASIC_AUTH_USERNAME);
  const password = secret(env.SLUICE_API_BASIC_AUTH_PASSWORD);
  if (combined !== undefined) {
    if (username !== undefined || password !== undefined) {
      throw new Error('set either SLUICE_API_BASIC_AUTH or SLUICE_API_BASIC_AUTH_USERNAME/_PASSWORD, not both');
    }
    const colon = combined.indexOf(':');
    if (colon < 1 || colon === combined.length - 1) throw new Error('SLUICE_API_BASIC_AUTH must be user:password (both non-empty)');
    return { username: combined.slice(0, colon), password: combined.slice(colon + 1) };
  }
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) {
    throw new Error('SLUICE_API_BASIC_AUTH_USERNAME and SLUICE_API_BASIC_AUTH_PASSWORD must be set together');
  }
  if (username.includes(':')) throw new Error('SLUICE_API_BASIC_AUTH_USERNAME must not contain ":"');
  return { username, password };
}

function tenantOf(raw: string | undefined): string {
  const tenant = raw?.trim() || DEFAULT_TENANT;
  const problem = tenantProblem(tenant);
  if (problem !== undefined) throw new Error(`SLUICE_TENANT ${problem}`);
  return tenant;
}

function publicUrlOf(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`SLUICE_PUBLIC_URL must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new Error(`SLUICE_PUBLIC_URL must be an http(s) URL without a query or fragment, got ${JSON.stringify(raw)}`);
  }
  return value.replace(/\/+$/, '');
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): ApiEnv {
  const apiToken = secret(env.SLUICE_API_TOKEN);
  const workerToken = secret(env.SLUICE_WORKER_TOKEN);
  if (apiToken !== undefined && apiToken === workerToken) {
    throw new Error('SLUICE_WORKER_TOKEN must differ from SLUICE_API_TOKEN: workers get their own credential');
  }
  return {
    port: positiveInteger('PORT', env.PORT, 8080, 65535),
    host: env.SLUICE_API_HOST?.trim() || '127.0.0.1',
    databaseUrl: env.DATABASE_URL?.trim() || undefined,
    redisUrl: env.REDIS_URL?.trim() || undefined,
    storageDir: env.SLUICE_STORAGE_DIR?.trim() || '.sluice/storage',
    apiToken,
    basicAuth: basicAuth(env),
    workerToken,
    bodyLimit: positiveInteger('SLUICE_API_BODY_LIMIT', env.SLUICE_API_BODY_LIMIT, 5 * 1024 * 1024, 1024 * 1024 * 1024),
    uploadLimit: positiveInteger('SLUICE_API_UPLOAD_LIMIT', env.SLUICE_API_UPLOAD_LIMIT, 1024 * 1024 * 1024, Number.MAX_SAFE_INTEGER),
    tenant: tenantOf(env.SLUICE_TENANT),
    publicUrl: publicUrlOf(env.SLUICE_PUBLIC_URL),
    webhookRateLimit: parseRateLimit('SLUICE_WEBHOOK_RATE_LIMIT', env.SLUICE_WEBHOOK_RATE_LIMIT),
    uiDir: env.SLUICE_UI_DIR?.trim() === 'off' ? false : env.SLUICE_UI_DIR?.trim() || undefined,
  };
}

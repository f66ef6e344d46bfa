/**
 * The API's configuration, read from the environment once (DESIGN.md §5b). Nothing else in apps/api reads
 * `process.env`; everything below it takes options.
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | `PORT` | 8080 | HTTP port |
 * | `SLUICE_API_HOST` | 127.0.0.1 | interface to listen on: loopback by default, because auth is off unless a token is set; `0.0.0.0` in a container |
 * | `DATABASE_URL` | (required) | Postgres |
 * | `SLUICE_API_TOKEN` | (none) | when set, every `/api` route needs `Authorization: Bearer <token>` |
 * | `SLUICE_API_BODY_LIMIT` | 5242880 | largest request body in bytes |
 */
export interface ApiEnv {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | undefined;
  readonly apiToken: string | undefined;
  readonly bodyLimit: number;
}

function positiveInteger(name: string, raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new Error(`${name} must be an integer between 1 and ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export function readEnv(env: NodeJS.ProcessEnv = process.env): ApiEnv {
  const token = env.SLUICE_API_TOKEN;
  return {
    port: positiveInteger('PORT', env.PORT, 8080, 65535),
    host: env.SLUICE_API_HOST?.trim() || '127.0.0.1',
    databaseUrl: env.DATABASE_URL?.trim() || undefined,
    apiToken: token === undefined || token === '' ? undefined : token,
    bodyLimit: positiveInteger('SLUICE_API_BODY_LIMIT', env.SLUICE_API_BODY_LIMIT, 5 * 1024 * 1024, 1024 * 1024 * 1024),
  };
}

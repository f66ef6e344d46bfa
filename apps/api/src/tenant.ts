/**
 * Kestra 1.x puts a tenant in every API path: `/api/v1/{tenant}/flows/...`, tenant `main` on an open-source server.
 * Sluice serves one tenant (`main` unless `SLUICE_TENANT` sets another) and keeps the paths without one:
 * `tenantScope` registers the public route plugins a second time under `/api/v1/:tenant`, so route code stays single.
 * A request naming another tenant is a 404 `SLU_API_TENANT_NOT_FOUND` before its body is read; the internal routes
 * (`/api/v1/internal/...`, workers) have no tenant form.
 */
import { SluiceError } from '@sluice/core';
import type { FastifyInstance, RouteOptions } from 'fastify';

export const DEFAULT_TENANT = 'main';

/**
 * First segments of the paths without a tenant (`/api/v1/flows/...`): a tenant named like one of them would make
 * `/api/v1/{tenant}/...` ambiguous with them.
 */
const RESERVED = new Set(['flows', 'executions', 'logs', 'metrics', 'plugins', 'internal', 'health', 'namespaces']);

/** Kestra's tenant ids: lower-case letters, digits, `_` and `-`, not starting with `_` or `-`. */
const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;

/** Why `tenant` cannot be the server's tenant, or undefined when it can. */
export function tenantProblem(tenant: string): string | undefined {
  if (!TENANT_PATTERN.test(tenant)) return `must be lower-case letters, digits, "_" and "-" (not first), got ${JSON.stringify(tenant)}`;
  if (RESERVED.has(tenant)) return `cannot be "${tenant}": /api/v1/${tenant}/... is already a path without a tenant`;
  return undefined;
}

interface ParamsSchema {
  readonly type?: string;
  readonly properties?: Record<string, unknown>;
  readonly required?: readonly string[];
}

/**
 * Inside a plugin registered with prefix `/api/v1/:tenant`: its routes answer only for `tenant`, and their OpenAPI
 * entries get the `tenant` path parameter (the routes' own params schemas are copied, never changed: the routes
 * without a tenant share them).
 */
export function tenantScope(app: FastifyInstance, tenant: string): void {
  const parameter = { type: 'string', description: `The tenant, as in Kestra 1.x paths: this server serves "${tenant}" (a Kestra open-source server: "main").` };
  app.addHook('onRoute', (route: RouteOptions) => {
    const schema = route.schema ?? {};
    const params = (schema.params ?? {}) as ParamsSchema;
    // Every parameter of the path, declared or not: a params schema hides the undeclared ones from the OpenAPI document.
    const names = [...route.url.matchAll(/:(\w+)/g)].map((match) => match[1]!);
    const properties: Record<string, unknown> = { tenant: parameter };
    for (const name of names) if (name !== 'tenant') properties[name] = params.properties?.[name] ?? { type: 'string' };
    route.schema = {
      ...schema,
      params: { ...params, type: 'object', properties: { ...properties, ...params.properties, tenant: parameter }, required: [...new Set(['tenant', ...names, ...(params.required ?? [])])] },
    };
  });
  app.addHook('onRequest', async (request) => {
    const given = (request.params as { tenant?: string }).tenant;
    if (given !== tenant) throw new SluiceError('SLU_API_TENANT_NOT_FOUND', { tenant: given ?? '', expected: tenant }, { tenant: given, expected: tenant });
  });
}

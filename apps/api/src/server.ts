import { SluiceError } from '@sluice/core';
/**
 * `createServer(deps)`: the whole HTTP API as a Fastify instance, without `listen` (STYLE.md), so tests and
 * `main.ts` decide where it listens.
 *
 * Request bodies: only YAML is parsed (`application/x-yaml`, `application/yaml`, `text/yaml`, `text/x-yaml`), as raw
 * bytes that must be UTF-8; any other content type is a 415 before a route runs. Every error, Fastify's own
 * included, leaves through one handler as `{code, message, details}`.
 */
import { TextDecoder } from 'node:util';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FlowValidator } from '@sluice/core';
import type { PluginRegistries } from '@sluice/plugin-api';
import type { QueueHealth } from '@sluice/queue';
import type { Storage } from '@sluice/storage';
import Fastify, { LogController } from 'fastify';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { toErrorResponse } from './api-errors.js';
import { createAuth, pathScope, Unauthorized } from './auth.js';
import type { AuthOptions } from './auth.js';
import { rejectInvalidRequestCharacters } from './invalid-characters.js';
import type { ExecutionQueue, ExecutionStarter, ExecutionWaiter } from './execution-queue.js';
import type { FlowStore } from './flow-store.js';
import { DEFAULT_UPLOAD_LIMIT, executionRoutes } from './routes/executions.js';
import type { ExecutionStore } from './routes/executions.js';
import { flowRoutes } from './routes/flows.js';
import { healthRoutes } from './routes/health.js';
import { logRoutes, type LogStore } from './routes/logs.js';
import { metricRoutes, type MetricStore } from './routes/metrics.js';
import { createDbExecutionsAccess } from './executions-access.js';
import { internalExecutionRoutes } from './routes/internal-executions.js';
import { internalStorageRoutes } from './routes/internal-storage.js';
import { createDbKvAccess } from './kv-access.js';
import { internalKvRoutes } from './routes/internal-kv.js';
import { kvRoutes, type KvStore } from './routes/kv.js';
import { internalWorkerRoutes } from './routes/internal-workers.js';
import type { WorkerRegistryStore } from './routes/internal-workers.js';
import { YAML_CONTENT_TYPES } from './routes/http.js';
import { pluginRoutes } from './routes/plugins.js';
import { triggerRoutes } from './routes/triggers.js';
import type { TriggerStore } from './routes/triggers.js';
import { webhookRoutes } from './routes/webhook.js';
import { registerUi } from './ui.js';
import type { RateLimit } from './rate-limit.js';
import { DEFAULT_TENANT, tenantProblem, tenantScope } from './tenant.js';

export interface ServerDeps {
  readonly flows: FlowStore;
  readonly registries: PluginRegistries;
  readonly validator: FlowValidator;
  /** Largest request body in bytes. Default 5 MiB. */
  readonly bodyLimit?: number;
  /**
   * Off by default. `apiToken` and/or `basic` protect every `/api` route but health (either credential passes);
   * `workerToken` alone opens the internal routes (`/api/v1/internal/...`, registered only when it is set). See auth.ts.
   */
  readonly auth?: AuthOptions;
  /** Fastify's logger (pino options or `false`). Default false. */
  readonly logger?: boolean | Record<string, unknown>;
  /** Serve the OpenAPI document and UI at `/docs`. Default true. */
  readonly docs?: boolean;
  /** Executions (`db.executions`). The execution endpoints exist only when `executions`, `storage` and `queue` are all given. */
  readonly executions?: ExecutionStore;
  /** Log lines (`db.logs`). The log and follow endpoints exist only when `executions` and `logs` are both given. */
  readonly logs?: LogStore;
  /**
   * Triggers (`db.triggers`): the `/triggers` endpoints exist only when it is given, and the webhook route
   * (`/executions/webhook/...`) only when it and the execution endpoints' dependencies are.
   */
  readonly triggers?: TriggerStore;
  /** Calls a webhook answers per flow and key (`SLUICE_WEBHOOK_RATE_LIMIT`); none: no limit. */
  readonly webhookRateLimit?: RateLimit;
  /** Metric rows (`db.metrics`): the `/metrics/...` endpoints exist only when it is given. */
  readonly metrics?: MetricStore;
  /**
   * The KV store (`db.kv`): the `/namespaces/{ns}/kv` endpoints exist only when it is given, and the workers'
   * `/internal/kv/...` routes when the worker token is set too.
   */
  readonly kv?: KvStore;
  /** The internal storage: FILE inputs are stored in it, execution files are served from it. */
  readonly storage?: Storage;
  /** Where new, restarted and killed executions are handed to the scheduler. */
  readonly queue?: ExecutionQueue;
  /** Takes a new execution's first step in this process (see ExecutionStarter); without it, `queue` hands it over. */
  readonly starter?: ExecutionStarter;
  /** Largest FILE input (each file part of a multipart body) in bytes. Default 1 GiB; the body limit does not apply to uploads. */
  readonly uploadLimit?: number;
  /** Live execution updates for `?wait=true` (without it, waiting polls the database). */
  readonly waiter?: ExecutionWaiter;
  /** How often `?wait=true` re-reads the execution (ms). Default 1000. */
  readonly waitPollMs?: number;
  /** The worker registry (`db.scheduler`): remote workers heartbeat through `/api/v1/internal/workers`. */
  readonly workers?: WorkerRegistryStore;
  /** The queue driver's connection state (`QueueDriver.health`): `/health` reports it as its `queue` check. */
  readonly queueHealth?: () => QueueHealth;
  /**
   * The tenant of Kestra 1.x paths (`SLUICE_TENANT`). Default `main`. Every public route is served both as
   * `/api/v1/{tenant}/...` and as `/api/v1/...`; the internal routes only without a tenant. See tenant.ts.
   */
  readonly tenant?: string;
  /** Where users reach Sluice (`SLUICE_PUBLIC_URL`): a created execution then carries Kestra's `url`. */
  readonly publicUrl?: string;
  /**
   * The built web UI's folder, served at `/ui/` with `/` redirecting to it (ui.ts). Undefined: no UI routes; a folder
   * without `index.html`: `/ui/` says how to build it.
   */
  readonly ui?: string;
}

export { YAML_CONTENT_TYPES };

const DEFAULT_BODY_LIMIT = 5 * 1024 * 1024;

export function createServer(deps: ServerDeps): FastifyInstance {
  const bodyLimit = deps.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const tenant = deps.tenant ?? DEFAULT_TENANT;
  const tenantInvalid = tenantProblem(tenant);
  if (tenantInvalid !== undefined) throw new Error(`the tenant ${tenantInvalid}`);
  // One access-log line per request, when it is answered (Fastify's default is two: one when it comes in, one when
  // it is answered; a busy API wrote twice the lines for the same facts).
  const app = Fastify({
    bodyLimit,
    logger: deps.logger ?? false,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    // A path that is not valid percent-encoded UTF-8 (`%ED%A0%80`, a lone surrogate) or too long a parameter: the
    // same `{code, message, details}` as every other error, not Fastify's own body.
    frameworkErrors: (error, request, reply) => {
      const { status, body, headers } = toErrorResponse(error, bodyLimit, request.id);
      void (reply as FastifyReply).status(status).headers(headers).type('application/json; charset=utf-8').send(body);
    },
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url, statusCode: reply.statusCode, responseTime: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
  });

  app.removeAllContentTypeParsers();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  app.addContentTypeParser([...YAML_CONTENT_TYPES], { parseAs: 'buffer', bodyLimit }, (_request, body, done) => {
    try {
      done(null, utf8.decode(body as Buffer));
    } catch {
      done(new SluiceError('SLU_API_BAD_REQUEST', { reason: 'the request body is not valid UTF-8 text' }), undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, body, headers } = toErrorResponse(error, bodyLimit, request.id);
    // Answered before the body was read to its end (a multipart upload refused at its first bad part): the rest of
    // the body would sit unread in a kept-alive connection, and the client's next request on it would hang.
    if (!request.raw.complete) void reply.header('connection', 'close');
    if (status === 503) request.log.warn({ err: error, code: body.code }, 'request failed: a dependency is unavailable');
    else if (status >= 500) request.log.error({ err: error }, 'request failed');
    void reply.status(status).headers(headers).type('application/json; charset=utf-8').send(body);
  });
  app.setNotFoundHandler((request) => {
    throw new SluiceError('SLU_API_ROUTE_NOT_FOUND', { method: request.method, url: request.url.split('?')[0] });
  });

  // Always installed, so an internal route can never be reached without the worker token: without one configured,
  // every `/api/v1/internal/...` path is a 404 whatever is registered.
  const auth = createAuth(deps.auth ?? {});
  app.addHook('onRequest', async (request, reply) => {
    const scope = pathScope(request.routeOptions.url ?? decodedPath(request.url));
    if (scope === 'internal' && !auth.internalEnabled) {
      throw new SluiceError('SLU_API_ROUTE_NOT_FOUND', { method: request.method, url: request.url.split('?')[0] });
    }
    try {
      auth.check(scope, request.headers.authorization);
    } catch (error) {
      if (!(error instanceof Unauthorized)) throw error;
      // The web UI has its own sign-in page: a Basic challenge would make the browser open its login dialog first.
      const challenge = request.headers['x-requested-with'] === 'sluice-ui' ? 'Bearer realm="sluice"' : error.challenge;
      return reply.status(401).header('www-authenticate', challenge).type('application/json; charset=utf-8').send(error.error.toJSON());
    }
  });
  // After auth: a NUL or a lone surrogate in a path segment or a query parameter is a 400 naming it, before a route
  // reads the database with it (Postgres refuses such text: it was a 500).
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      rejectInvalidRequestCharacters(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  });

  if (deps.docs ?? true) {
    void app.register(swagger, {
      openapi: {
        info: { title: 'Sluice API', version: '0.1.0', description: 'Kestra-compatible REST API (flows).' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      },
    });
    void app.register(swaggerUi, { routePrefix: '/docs' });
  }
  if (deps.ui !== undefined) registerUi(app, deps.ui);
  void app.register(healthRoutes, { flows: deps.flows, ...(deps.queueHealth ? { queue: deps.queueHealth } : {}) });
  // The public routes, registered twice: as `/api/v1/...` and as Kestra 1.x's `/api/v1/{tenant}/...`. Static path
  // segments win over the `:tenant` parameter, so every path without a tenant resolves as it always did.
  const publicRoutes = async (api: FastifyInstance): Promise<void> => {
    await api.register(flowRoutes, { flows: deps.flows, validator: deps.validator });
    await api.register(pluginRoutes, { registries: deps.registries });
    if (deps.executions && deps.storage && deps.queue) {
      await api.register(executionRoutes, {
        flows: deps.flows,
        executions: deps.executions,
        storage: deps.storage,
        queue: deps.queue,
        ...(deps.uploadLimit === undefined ? {} : { uploadLimit: deps.uploadLimit }),
        ...(deps.waiter === undefined ? {} : { waiter: deps.waiter }),
        ...(deps.starter === undefined ? {} : { starter: deps.starter }),
        ...(deps.waitPollMs === undefined ? {} : { waitPollMs: deps.waitPollMs }),
        ...(deps.publicUrl === undefined ? {} : { publicUrl: deps.publicUrl }),
        tenant,
      });
    }
    if (deps.executions && deps.logs) await api.register(logRoutes, { executions: deps.executions, logs: deps.logs, flows: deps.flows });
    if (deps.metrics) await api.register(metricRoutes, { metrics: deps.metrics });
    if (deps.kv) await api.register(kvRoutes, { kv: deps.kv });
    if (deps.triggers) await api.register(triggerRoutes, { triggers: deps.triggers, flows: deps.flows });
    if (deps.triggers && deps.executions && deps.queue) {
      await api.register(webhookRoutes, {
        flows: deps.flows,
        executions: deps.executions,
        queue: deps.queue,
        triggers: deps.triggers,
        bodyLimit,
        ...(deps.webhookRateLimit === undefined ? {} : { rateLimit: deps.webhookRateLimit }),
        ...(deps.publicUrl === undefined ? {} : { publicUrl: deps.publicUrl }),
        tenant,
      });
    }
  };
  void app.register(publicRoutes, { prefix: '/api/v1' });
  void app.register(
    async (api) => {
      tenantScope(api, tenant);
      await publicRoutes(api);
    },
    { prefix: '/api/v1/:tenant' },
  );
  if (deps.storage && auth.internalEnabled) {
    void app.register(internalStorageRoutes, { prefix: '/api/v1', storage: deps.storage, uploadLimit: deps.uploadLimit ?? DEFAULT_UPLOAD_LIMIT });
  }
  if (deps.workers && auth.internalEnabled) void app.register(internalWorkerRoutes, { prefix: '/api/v1', workers: deps.workers });
  if (deps.kv && auth.internalEnabled) void app.register(internalKvRoutes, { prefix: '/api/v1', access: createDbKvAccess(deps.kv) });
  if (deps.executions && deps.logs && deps.queue && auth.internalEnabled) {
    const access = createDbExecutionsAccess({ executions: deps.executions, logs: deps.logs, flows: deps.flows, queue: deps.queue });
    void app.register(internalExecutionRoutes, { prefix: '/api/v1', access, executions: deps.executions });
  }
  return app;
}

function decodedPath(url: string): string {
  const path = url.split('?')[0] ?? '';
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

import type { QueueHealth } from '@sluice/queue';
import type { FastifyPluginAsync } from 'fastify';
import { RETRY_AFTER_SECONDS } from '../api-errors.js';
import type { FlowStore } from '../flow-store.js';

/** A database that has not answered the health check's `SELECT 1` within this long is reported DOWN. */
export const HEALTH_TIMEOUT_MS = 5000;

type Check = { status: 'UP' | 'DOWN'; error?: string };

/**
 * `GET /health` (Kestra's path) and `GET /api/v1/health`: `{status: UP|DOWN, checks: {database, queue}}`, 200 or 503
 * (with `Retry-After`, as every 503 of the API). Open even when auth is on, so probes need no token; the database and
 * queue errors are reported, never a credential. A database that does not answer within {@link HEALTH_TIMEOUT_MS} is
 * DOWN. The queue check (present when the server has a queue driver) is its connection's state, without a round trip:
 * DOWN while Redis is down or unreachable (executions are still accepted meanwhile: see docs/execution.md); the
 * in-process queue is always UP.
 */
export const healthRoutes: FastifyPluginAsync<{ flows: FlowStore; queue?: () => QueueHealth; timeoutMs?: number }> = async (
  app,
  { flows, queue, timeoutMs = HEALTH_TIMEOUT_MS },
) => {
  const schema = { tags: ['health'], summary: 'Liveness, database and queue connectivity', security: [] };
  const database = async (): Promise<Check> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      await Promise.race([flows.ping(), late]);
      return { status: 'UP' };
    } catch (error) {
      return { status: 'DOWN', error: oneLine(error) };
    } finally {
      clearTimeout(timer);
    }
  };
  const queueCheck = (): Check | undefined => {
    if (!queue) return undefined;
    try {
      const health = queue();
      return health.status === 'UP' ? { status: 'UP' } : { status: 'DOWN', ...(health.error ? { error: oneLine(health.error) } : {}) };
    } catch (error) {
      return { status: 'DOWN', error: oneLine(error) };
    }
  };
  const handler = async (): Promise<{ status: 'UP' | 'DOWN'; checks: Record<string, Check> }> => {
    const checks: Record<string, Check> = { database: await database() };
    const queued = queueCheck();
    if (queued) checks.queue = queued;
    return { status: Object.values(checks).every((check) => check.status === 'UP') ? 'UP' : 'DOWN', checks };
  };
  for (const url of ['/health', '/api/v1/health']) {
    app.get(url, { schema }, async (_request, reply) => {
      const body = await handler();
      if (body.status !== 'UP') void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return reply.status(body.status === 'UP' ? 200 : 503).send(body);
    });
  }
};

/** An error (or a message) on one line, never empty. */
function oneLine(error: unknown): string {
  const text = typeof error === 'string' ? error : error instanceof Error ? error.message : String(error);
  return text.split('\n').map((l) => l.trim()).filter(Boolean).join(' ') || String((error as { code?: unknown })?.code ?? 'unknown error');
}

import type { FastifyPluginAsync } from 'fastify';
import { RETRY_AFTER_SECONDS } from '../api-errors.js';
import type { FlowStore } from '../flow-store.js';

/** A database that has not answered the health check's `SELECT 1` within this long is reported DOWN. */
export const HEALTH_TIMEOUT_MS = 5000;

/**
 * `GET /health` (Kestra's path) and `GET /api/v1/health`: `{status: UP|DOWN, checks: {database}}`, 200 or 503 (with
 * `Retry-After`, as every 503 of the API). Open even when auth is on, so probes need no token; the database error is
 * reported, never a credential. A database that does not answer within {@link HEALTH_TIMEOUT_MS} is DOWN.
 */
export const healthRoutes: FastifyPluginAsync<{ flows: FlowStore; timeoutMs?: number }> = async (app, { flows, timeoutMs = HEALTH_TIMEOUT_MS }) => {
  const schema = { tags: ['health'], summary: 'Liveness and database connectivity', security: [] };
  const handler = async (): Promise<{ status: string; checks: Record<string, { status: string; error?: string }> }> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      await Promise.race([flows.ping(), late]);
      return { status: 'UP', checks: { database: { status: 'UP' } } };
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).split('\n').map((l) => l.trim()).filter(Boolean).join(' ') || String((error as { code?: unknown })?.code ?? 'unknown error');
      return { status: 'DOWN', checks: { database: { status: 'DOWN', error: reason } } };
    } finally {
      clearTimeout(timer);
    }
  };
  for (const url of ['/health', '/api/v1/health']) {
    app.get(url, { schema }, async (_request, reply) => {
      const body = await handler();
      if (body.status !== 'UP') void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return reply.status(body.status === 'UP' ? 200 : 503).send(body);
    });
  }
};

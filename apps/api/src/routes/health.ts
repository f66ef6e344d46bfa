import type { FastifyPluginAsync } from 'fastify';
import type { FlowStore } from '../flow-store.js';

/**
 * `GET /health` (Kestra's path) and `GET /api/v1/health`: `{status: UP|DOWN, checks: {database}}`, 200 or 503.
 * Open even when auth is on, so probes need no token; the database error is reported, never a credential.
 */
export const healthRoutes: FastifyPluginAsync<{ flows: FlowStore }> = async (app, { flows }) => {
  const schema = { tags: ['health'], summary: 'Liveness and database connectivity', security: [] };
  const handler = async (): Promise<{ status: string; checks: Record<string, { status: string; error?: string }> }> => {
    try {
      await flows.ping();
      return { status: 'UP', checks: { database: { status: 'UP' } } };
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).split('\n').map((l) => l.trim()).filter(Boolean).join(' ') || String((error as { code?: unknown })?.code ?? 'unknown error');
      return { status: 'DOWN', checks: { database: { status: 'DOWN', error: reason } } };
    }
  };
  for (const url of ['/health', '/api/v1/health']) {
    app.get(url, { schema }, async (_request, reply) => {
      const body = await handler();
      return reply.status(body.status === 'UP' ? 200 : 503).send(body);
    });
  }
};

/**
 * Server-sent events over a hijacked Fastify reply, for the follow endpoints. A follow is a poll loop: `step` runs
 * every `pollMs` until it says the stream is done, the client goes away, or the server closes (every open stream is
 * ended in `preClose`, so `app.close()` never waits on a follower). A comment line goes out when nothing was written
 * for `heartbeatMs`, so proxies and clients can tell an idle stream from a dead one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { toErrorResponse } from '../api-errors.js';

export const DEFAULT_POLL_MS = 250;
export const DEFAULT_HEARTBEAT_MS = 15_000;

export interface FollowTiming {
  /** How often the database is polled. Default {@link DEFAULT_POLL_MS}. */
  readonly pollMs?: number;
  /** Longest silence before a `: heartbeat` comment. Default {@link DEFAULT_HEARTBEAT_MS}. */
  readonly heartbeatMs?: number;
}

/**
 * What a poll step writes with. Events are Kestra's: no `event:` name (so an EventSource's `onmessage` gets them), the
 * kind (`progress`, `end`) as the event's `id:`, the JSON as `data:`.
 */
export interface SseWriter {
  /**
   * Write one event: `id: <kind>`, then `data: <JSON>` unless `data` is undefined (an event with no data, which SSE
   * clients do not dispatch: only its id is seen). Resolves once the socket takes more (back-pressure).
   */
  send(kind: string, data?: unknown): Promise<void>;
  /** False once the client is gone or the server is closing: stop work early. */
  readonly open: boolean;
}

/** Tracks open streams so the server can end them when it closes. One per plugin instance. */
export function createFollowHub(app: FastifyInstance, timing: FollowTiming = {}) {
  const pollMs = timing.pollMs ?? DEFAULT_POLL_MS;
  const heartbeatMs = timing.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  /** Each open stream's abort, and a promise settled once its response has ended. */
  const active = new Map<AbortController, Promise<void>>();
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    for (const controller of active.keys()) controller.abort();
    await Promise.all(active.values());
  });

  /**
   * Answer `reply` with an event stream driven by `step` (called at once, then every `pollMs`; it returns true when
   * the stream is complete). Errors inside the loop end the stream with an `error` event (`event: error`) carrying
   * the usual `{code, message, details}` body. An EventSource reconnects once a stream ends, sending the last id it
   * saw: `Last-Event-ID: end` (the stream had ended) is answered 204, which tells it to stop.
   */
  async function follow(request: FastifyRequest, reply: FastifyReply, step: (sse: SseWriter) => Promise<boolean>): Promise<void> {
    if (request.headers['last-event-id'] === 'end') {
      await reply.status(204).send();
      return;
    }
    const controller = new AbortController();
    const { signal } = controller;
    let settle = (): void => undefined;
    active.set(controller, new Promise<void>((resolve) => (settle = resolve)));
    const res = reply.raw;
    const socket = res.socket;
    const onClose = (): void => controller.abort();
    res.on('close', onClose);
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let lastWrite = Date.now();
    const write = async (text: string): Promise<void> => {
      if (signal.aborted) return;
      lastWrite = Date.now();
      if (res.write(text)) return;
      await new Promise<void>((resolve) => {
        const finish = (): void => {
          res.off('drain', finish);
          signal.removeEventListener('abort', finish);
          resolve();
        };
        res.on('drain', finish);
        signal.addEventListener('abort', finish);
      });
    };
    const sse: SseWriter = {
      send: (kind, data) => write(`id: ${kind}\n${data === undefined ? '' : `data: ${JSON.stringify(data)}\n`}\n`),
      get open() {
        return !signal.aborted;
      },
    };
    try {
      await write(': connected\n\n');
      for (;;) {
        if (signal.aborted || (await step(sse))) break;
        if (Date.now() - lastWrite >= heartbeatMs) await write(': heartbeat\n\n');
        try {
          await sleep(pollMs, undefined, { signal });
        } catch {
          break; // aborted: the client left or the server is closing
        }
      }
    } catch (error) {
      if (!signal.aborted) {
        const { status, body } = toErrorResponse(error, 0, request.id);
        if (status >= 500) request.log.error({ err: error }, 'follow failed');
        await write(`event: error\ndata: ${JSON.stringify(body)}\n\n`).catch(() => undefined);
      }
    } finally {
      res.off('close', onClose);
      if (!res.writableEnded && !res.destroyed) await new Promise<void>((resolve) => res.end(resolve));
      // Client gone (a fetch abort may only half-close) or server closing: drop the socket too, or it lingers and
      // server.close() waits for the client to let it go.
      if (signal.aborted || closing) socket?.destroy();
      active.delete(controller);
      settle();
    }
  }

  return { follow };
}

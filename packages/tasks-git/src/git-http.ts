/**
 * isomorphic-git's Node HTTP client, made cancellable and bounded in time. isomorphic-git's `clone` takes no
 * AbortSignal, so cancellation and timeouts live in the transport: every request gets a signal that aborts on the
 * task's signal or on a timeout, and every response body is read through a guard that stops waiting the moment that
 * signal fires (the underlying body iterator would otherwise wait forever on a destroyed socket).
 *
 * - connect timeout: from opening a TCP connection until it is established (TLS included), through a one-request
 *   agent that watches its socket;
 * - read timeout: once connected, no byte received for that long (waiting for the headers, between body chunks).
 *
 * Redirects are followed here, not by the inner client, so each hop gets the agent of its own protocol (an
 * http → https redirect is common); credentials are dropped when a redirect leaves the origin.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import nodeHttp from 'isomorphic-git/http/node';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';

/** A transport timeout; the clone task reports its message as the failure reason. */
export class GitTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitTimeoutError';
  }
}

export interface GitHttpOptions {
  /** The task's signal: aborting it aborts every request in flight. */
  readonly signal: AbortSignal;
  /** Milliseconds to establish a TCP (and TLS) connection. */
  readonly connectTimeout: number;
  /** Milliseconds without receiving a byte before a request fails. */
  readonly readTimeout: number;
}

export interface GitHttpClient extends HttpClient {
  /** Whether a response body is being read right now (the transfer phase of a fetch). */
  transferring(): boolean;
  /** Close sockets and cancel timers; call once the clone is over. */
  dispose(): void;
}

const maxRedirects = 10;

/** An agent for one request (one hop): it bounds connecting and says when the socket is connected. */
function createAgent(protocol: string, timeout: number, onConnect: () => void): HttpAgent {
  const agent = protocol === 'https:' ? new HttpsAgent() : new HttpAgent();
  const create = agent.createConnection.bind(agent) as (options: object, callback?: (error: Error | null, stream: Duplex) => void) => Duplex | null | undefined;
  agent.createConnection = (options, callback) => {
    const socket = create(options, callback);
    if (socket instanceof Socket) {
      const timer = setTimeout(() => socket.destroy(new GitTimeoutError(`connection not established within ${timeout} ms`)), timeout);
      timer.unref();
      socket.once(socket instanceof TLSSocket ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        onConnect();
      });
      socket.once('close', () => clearTimeout(timer));
    }
    return socket;
  };
  return agent;
}

/** Reject as soon as `signal` aborts, with its reason. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

async function* guardBody(
  body: AsyncIterableIterator<Uint8Array>,
  signal: AbortSignal,
  onChunk: () => void,
  onEnd: () => void,
): AsyncIterableIterator<Uint8Array> {
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await raceAbort(iterator.next(), signal);
      if (next.done) return;
      onChunk();
      // isomorphic-git's Node iterator yields undefined once in a while; it skips falsy values itself.
      if (next.value) yield next.value;
    }
  } finally {
    onEnd();
    // Destroys the response stream (and its socket) when we stop early.
    await iterator.return?.();
  }
}

export function createGitHttpClient(options: GitHttpOptions): GitHttpClient {
  const agents = new Set<HttpAgent>();
  const timers = new Set<NodeJS.Timeout>();
  let activeBodies = 0;

  const request = async (input: GitHttpRequest): Promise<GitHttpResponse> => {
    options.signal.throwIfAborted();
    const controller = new AbortController();
    const signal = AbortSignal.any([options.signal, controller.signal]);
    let timer: NodeJS.Timeout | undefined;
    const stopWatchdog = () => {
      if (timer) {
        clearTimeout(timer);
        timers.delete(timer);
        timer = undefined;
      }
    };
    const armWatchdog = (ms: number) => {
      stopWatchdog();
      timer = setTimeout(() => controller.abort(new GitTimeoutError(`no data received within ${options.readTimeout} ms`)), ms);
      timer.unref();
      timers.add(timer);
    };
    let next: GitHttpRequest = input;
    try {
      for (let redirects = 0; ; redirects++) {
        const agent = createAgent(new URL(next.url).protocol, options.connectTimeout, () => armWatchdog(options.readTimeout));
        agents.add(agent);
        const response = await raceAbort(
          nodeHttp.request({ ...next, agent, signal, fetchOptions: { followRedirects: false } }),
          signal,
        );
        const location = response.headers?.location;
        const method = (next.method ?? 'GET').toUpperCase();
        if (response.statusCode >= 300 && response.statusCode < 400 && location && method === 'GET' && redirects < maxRedirects) {
          // Drain the redirect body quietly and follow it.
          void response.body?.return?.();
          const target = new URL(location, next.url);
          const headers = { ...next.headers };
          if (target.origin !== new URL(next.url).origin) {
            for (const name of Object.keys(headers)) if (/^(authorization|cookie)$/i.test(name)) delete headers[name];
          }
          next = { ...next, url: target.href, headers };
          continue;
        }
        armWatchdog(options.readTimeout);
        if (!response.body) {
          stopWatchdog();
          return response;
        }
        activeBodies++;
        const onEnd = () => {
          activeBodies--;
          stopWatchdog();
        };
        return { ...response, body: guardBody(response.body, signal, () => armWatchdog(options.readTimeout), onEnd) };
      }
    } catch (error) {
      stopWatchdog();
      // The abort reason (the task's own reason, or our timeout) says more than Node's generic AbortError.
      if (options.signal.aborted) throw options.signal.reason;
      if (controller.signal.aborted) throw controller.signal.reason;
      throw error;
    }
  };

  return {
    request,
    transferring: () => activeBodies > 0,
    dispose() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const agent of agents) agent.destroy();
      agents.clear();
    },
  };
}

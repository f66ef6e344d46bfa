/** The error handler's mapping, without a server: database errors that are not bugs, busboy's, and the rest. */
import { describe, expect, it } from 'vitest';
import { RETRY_AFTER_SECONDS, toErrorResponse } from '../src/api-errors.js';

const noStack = (text: string): void => expect(text).not.toMatch(/\bat .+:\d+:\d+|\.ts\b|SELECT|127\.0\.0\.1/);

describe('toErrorResponse', () => {
  it('an unreachable database is 503 SLU_DB_UNAVAILABLE with Retry-After, whatever shape the error took', () => {
    const errors = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' }),
      Object.assign(new Error("Invalid `prisma.flow.findUnique()` invocation in /app/src/x.ts:3:7 Can't reach database server at 127.0.0.1:5432"), {
        code: 'P1001',
        meta: { driverAdapterError: { cause: { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 5432 } } },
      }),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', severity: 'FATAL' }),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
    ];
    for (const error of errors) {
      const response = toErrorResponse(error, 1000, 'req-1');
      expect(response.status, error.message).toBe(503);
      expect(response.headers).toEqual({ 'retry-after': String(RETRY_AFTER_SECONDS) });
      expect(response.body).toMatchObject({ code: 'SLU_DB_UNAVAILABLE', message: expect.stringMatching(/^cannot reach the database: /), details: { retryAfterSeconds: 5 } });
      noStack(JSON.stringify(response.body));
    }
  });

  it('text the database cannot store is 400 SLU_API_INVALID_CHARACTER (the safety net behind the checks at the edges)', () => {
    const error = Object.assign(new Error('Invalid `tx.flow.create()` invocation in /app/src/flow-repository.ts:182:20 Database error. Code: `22P05`.'), {
      code: 'P2039',
      meta: { driverAdapterError: { cause: { originalCode: '22P05', originalMessage: 'unsupported Unicode escape sequence', kind: 'postgres', code: '22P05' } } },
    });
    const response = toErrorResponse(error, 1000, 'req-2');
    expect(response).toMatchObject({ status: 400, headers: {}, body: { code: 'SLU_API_INVALID_CHARACTER', details: { cause: '22P05' } } });
    noStack(JSON.stringify(response.body));
    expect(toErrorResponse(Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021', severity: 'ERROR' }), 1000, 'r').status).toBe(400);
  });

  it('a body the multipart parser cannot read is 400; a storage failure during an upload stays 500', () => {
    for (const message of ['Unexpected end of multipart data', 'Part terminated early due to unexpected end of multipart data', 'Malformed part header', 'Multipart: Boundary not found']) {
      expect(toErrorResponse(new Error(message), 1000, 'r')).toMatchObject({ status: 400, body: { code: 'SLU_API_BAD_REQUEST', details: { in: 'body' } } });
    }
    const disk = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(toErrorResponse(disk, 1000, 'r').status).toBe(500);
  });

  it('anything else is 500 SLU_API_INTERNAL naming the request, never its message or stack', () => {
    const error = new Error('relation "flows" does not exist: SELECT * FROM flows at /app/src/x.ts:1:2');
    const response = toErrorResponse(error, 1000, 'req-9');
    expect(response).toEqual({ status: 500, headers: {}, body: { code: 'SLU_API_INTERNAL', message: 'internal error (request req-9): see the server log', details: {} } });
  });
});

import { describe, expect, it } from 'vitest';
import { classifyDbError } from './db-errors.js';

/** The shapes below are copied from what pg 8 and Prisma 7 (with @prisma/adapter-pg) threw against a real Postgres. */
function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}
function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code, errno: -111, syscall: 'connect' });
}
function prismaError(code: string, cause: Record<string, unknown>): Error {
  return Object.assign(new Error('Invalid `prisma.$queryRaw()` invocation: Raw query failed.'), {
    name: 'PrismaClientKnownRequestError',
    code,
    meta: { driverAdapterError: { name: 'DriverAdapterError', cause } },
  });
}

describe('classifyDbError', () => {
  it('calls a NUL or a lone surrogate refused by Postgres invalid text (22021, 22P05, 22P02 json), from pg and from Prisma', () => {
    expect(classifyDbError(pgError('22021', 'invalid byte sequence for encoding "UTF8": 0x00'))).toMatchObject({ kind: 'invalid-text', cause: '22021' });
    expect(classifyDbError(pgError('22P05', 'unsupported Unicode escape sequence'))).toMatchObject({ kind: 'invalid-text', cause: '22P05' });
    expect(classifyDbError(prismaError('P2039', { originalCode: '22P05', originalMessage: 'unsupported Unicode escape sequence', kind: 'postgres', code: '22P05' }))).toMatchObject({
      kind: 'invalid-text',
      cause: '22P05',
    });
    expect(classifyDbError(prismaError('P2007', { originalCode: '22P02', originalMessage: 'invalid input syntax for type json', kind: 'InvalidInputValue' }))).toMatchObject({
      kind: 'invalid-text',
      cause: '22P02',
    });
    // Another 22P02 (a bad integer, say) may be our own bug: not classified.
    expect(classifyDbError(pgError('22P02', 'invalid input syntax for type integer: "x"'))).toBeUndefined();
  });

  it('calls an unreachable or stopping server unavailable, whatever the path the error took', () => {
    expect(classifyDbError(socketError('ECONNREFUSED'))).toMatchObject({ kind: 'unavailable', cause: 'ECONNREFUSED', reason: 'connection refused' });
    expect(classifyDbError(prismaError('P1001', { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 1 }))).toMatchObject({ kind: 'unavailable', cause: 'DatabaseNotReachable' });
    expect(classifyDbError(prismaError('P2010', { kind: 'DatabaseNotReachable', host: '127.0.0.1', port: 1 }))).toMatchObject({ kind: 'unavailable' });
    expect(classifyDbError(prismaError('P2010', { originalCode: '57P01', kind: 'postgres', code: '57P01', message: 'terminating connection due to administrator command' }))).toMatchObject({
      kind: 'unavailable',
      cause: '57P01',
    });
    expect(classifyDbError(pgError('57P01', 'terminating connection due to administrator command'))).toMatchObject({ kind: 'unavailable', cause: '57P01' });
    expect(classifyDbError(pgError('57P03', 'the database system is starting up'))).toMatchObject({ kind: 'unavailable' });
    expect(classifyDbError(pgError('08006', 'connection failure'))).toMatchObject({ kind: 'unavailable' });
    expect(classifyDbError(Object.assign(new Error('Timed out fetching a new connection from the connection pool.'), { code: 'P2024' }))).toMatchObject({ kind: 'unavailable', cause: 'P2024' });
    expect(classifyDbError(Object.assign(new Error('Server has closed the connection.'), { code: 'P1017' }))).toMatchObject({ kind: 'unavailable' });
    for (const message of ['Connection terminated unexpectedly', 'Connection terminated due to connection timeout', 'timeout exceeded when trying to connect']) {
      expect(classifyDbError(new Error(message)), message).toMatchObject({ kind: 'unavailable', cause: 'pg' });
    }
    // A host name with two addresses fails with an AggregateError; a wrapped error is followed through its cause.
    expect(classifyDbError(new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')], ''))).toMatchObject({ kind: 'unavailable' });
    expect(classifyDbError(new Error('flow cache', { cause: socketError('ECONNRESET') }))).toMatchObject({ kind: 'unavailable', cause: 'ECONNRESET' });
  });

  it('leaves every other error alone, and never puts a host or a message in the reason', () => {
    expect(classifyDbError(pgError('23505', 'duplicate key value violates unique constraint'))).toBeUndefined();
    expect(classifyDbError(new Error('boom'))).toBeUndefined();
    expect(classifyDbError(new TypeError('Connection terminated'.toLowerCase()))).toBeUndefined();
    expect(classifyDbError(undefined)).toBeUndefined();
    expect(classifyDbError('ECONNREFUSED')).toBeUndefined();
    const cyclic: { cause?: unknown } = {};
    cyclic.cause = cyclic;
    expect(classifyDbError(cyclic)).toBeUndefined();
    expect(classifyDbError(prismaError('P1001', { kind: 'DatabaseNotReachable', host: 'db.internal', port: 5432 }))?.reason).not.toContain('db.internal');
  });
});

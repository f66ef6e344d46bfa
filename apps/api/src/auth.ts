import { SluiceError } from '@sluice/core';
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Bearer-token check for `/api` routes. Both sides are hashed first so the comparison takes the same time whatever
 * the lengths, and `timingSafeEqual` never short-circuits.
 */
export function createTokenCheck(apiToken: string): (authorization: string | undefined) => void {
  const expected = createHash('sha256').update(apiToken).digest();
  return (authorization) => {
    const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
    const given = createHash('sha256').update(match?.[1] ?? '').digest();
    if (!match || !timingSafeEqual(given, expected)) throw new SluiceError('SLU_API_UNAUTHORIZED');
  };
}

/** Routes that stay open with auth on: health probes carry no data. */
export function isOpenPath(path: string): boolean {
  return path === '/health' || path === '/api/v1/health';
}

/** Routes that need the token when auth is on. */
export function isProtectedPath(path: string): boolean {
  return (path === '/api' || path.startsWith('/api/')) && !isOpenPath(path);
}

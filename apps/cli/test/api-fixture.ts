/**
 * A real Sluice API over a fresh, migrated Postgres database (`@sluice/api/testing`), for the client commands to talk
 * to. Postgres comes from `scripts/services.sh`; without it `startApi` returns undefined (the tests skip) unless
 * SLUICE_REQUIRE_SERVICES=1, where it throws.
 */
import { startApi as startTestApi } from '@sluice/api/testing';
import type { ApiFixture } from '@sluice/api/testing';

export type { ApiFixture };

export function startApi(options: { readonly apiToken?: string } = {}): Promise<ApiFixture | undefined> {
  return startTestApi({ ...options, docs: false, databasePrefix: 'sluice_cli' });
}

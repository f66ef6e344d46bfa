import { ApiClient, apiPath, reportingApiErrors } from '../api-client.js';
import type { ServerOptions } from '../api-client.js';
import type { CliIO } from '../io.js';

/**
 * `sluice trigger list|disable|enable`: the server's trigger routes (`GET /api/v1/triggers/search`, `PUT
 * /api/v1/triggers`). A trigger disabled this way stays so until enabled again, whatever its flow's YAML is
 * redeployed with: a Schedule does not fire, a Webhook answers 409.
 */

export interface TriggerListOptions {
  readonly server: ServerOptions;
  /** This namespace and its children. */
  readonly namespace?: string;
  readonly flowId?: string;
  readonly output?: 'text' | 'json';
}

export interface TriggerSetOptions {
  readonly server: ServerOptions;
  readonly namespace: string;
  readonly flowId: string;
  readonly triggerId: string;
  readonly disabled: boolean;
}

/** Kestra's trigger context, as the search and `PUT /triggers` answer it (only what is read here). */
interface TriggerContextJson {
  readonly namespace: string;
  readonly flowId: string;
  readonly triggerId: string;
  readonly date?: string;
  readonly nextExecutionDate?: string;
  readonly workerId?: string;
  readonly disabled: boolean;
}

interface SearchPage {
  readonly results: { readonly abstractTrigger: { readonly type?: string; readonly disabled?: boolean } | null; readonly triggerContext: TriggerContextJson }[];
  readonly total: number;
}

/** The page size of the search (its maximum). */
const PAGE_SIZE = 500;

const nameOf = (t: Pick<TriggerContextJson, 'namespace' | 'flowId' | 'triggerId'>): string => `${t.namespace}.${t.flowId}/${t.triggerId}`;

/** The trigger's type without its package: `Schedule`, `Webhook`. */
const shortType = (type: string | undefined): string => type?.split('.').pop() ?? '?';

/**
 * `sluice trigger list`: every trigger of the live flows (the whole search, page by page), one line each:
 * `NS.FLOW/TRIGGER  TYPE  enabled|disabled  next DATE  last DATE`. A trigger disabled in its YAML says so.
 */
export async function triggerListCommand(options: TriggerListOptions, io: CliIO): Promise<number> {
  const api = new ApiClient(options.server);
  return reportingApiErrors(io, async () => {
    const filters = new URLSearchParams();
    if (options.namespace !== undefined) filters.append('filters[namespace][PREFIX]', options.namespace);
    if (options.flowId !== undefined) filters.append('filters[flowId][EQUALS]', options.flowId);
    const results: SearchPage['results'][number][] = [];
    for (let page = 1; ; page++) {
      const query = new URLSearchParams(filters);
      query.set('page', String(page));
      query.set('size', String(PAGE_SIZE));
      const found = await api.request<SearchPage>('GET', `${apiPath('api', 'v1', 'triggers', 'search')}?${query.toString()}`);
      results.push(...found.results);
      if (found.results.length < PAGE_SIZE || results.length >= found.total) break;
    }
    if (options.output === 'json') {
      io.stdout(JSON.stringify(results, null, 2));
      return 0;
    }
    if (results.length === 0) {
      io.stderr('no triggers');
      return 0;
    }
    for (const { abstractTrigger, triggerContext: t } of results) {
      const state = t.disabled ? 'disabled' : abstractTrigger?.disabled === true ? 'disabled (in the flow)' : 'enabled';
      const fields = [nameOf(t), shortType(abstractTrigger?.type), state, `next ${t.nextExecutionDate ?? '-'}`, `last ${t.date ?? '-'}`];
      io.stdout(fields.join('  '));
    }
    return 0;
  });
}

/** `sluice trigger disable|enable NAMESPACE FLOW_ID TRIGGER_ID`: prints `NS.FLOW/TRIGGER disabled` (or `enabled`). */
export async function triggerSetCommand(options: TriggerSetOptions, io: CliIO): Promise<number> {
  const api = new ApiClient(options.server);
  return reportingApiErrors(io, async () => {
    const body = JSON.stringify({ namespace: options.namespace, flowId: options.flowId, triggerId: options.triggerId, disabled: options.disabled });
    const stored = await api.request<TriggerContextJson>('PUT', apiPath('api', 'v1', 'triggers'), { body, contentType: 'application/json' });
    io.stdout(`${nameOf(stored)} ${stored.disabled ? 'disabled' : 'enabled'}`);
    return 0;
  });
}

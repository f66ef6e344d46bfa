/**
 * Kestra 1.x's search parameters: `filters[field][OPERATION]=value` (its QueryFilter), `sort=field:asc|desc`, read the
 * way Kestra's webserver reads them, for `GET /flows/search`, `/executions/search`, `/logs/search` and
 * `/triggers/search`. Nothing is ignored: an unknown field or operation, an operation the field does not take, a
 * field the route does not search, a malformed parameter or value, an unknown sort key is a 400
 * (`SLU_API_BAD_REQUEST`) naming the parameter in `details.parameter`.
 *
 * | field | operations | value |
 * |---|---|---|
 * | `namespace`, `flowId` | EQUALS, NOT_EQUALS, IN, NOT_IN, STARTS_WITH, ENDS_WITH, CONTAINS, REGEX, PREFIX | text; IN/NOT_IN a comma-separated list (or the parameter repeated); PREFIX the value or a child (`a` matches `a` and `a.b`) |
 * | `executionId` (logs), `triggerId` (logs, triggers), `triggerExecutionId` (executions), `workerId` (triggers) | EQUALS, NOT_EQUALS, IN, NOT_IN, STARTS_WITH, ENDS_WITH, CONTAINS | text |
 * | `state` (executions) | EQUALS, NOT_EQUALS, IN, NOT_IN | Kestra states |
 * | `labels` (flows, executions) | EQUALS (every label), NOT_EQUALS, NOT_IN (none of them), IN (any of them), CONTAINS (text in a key or value) | `filters[labels][EQUALS][key]=value`, or `key:value` |
 * | `startDate`, `endDate` (executions, logs, triggers) | EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN, GREATER_THAN_OR_EQUAL_TO, LESS_THAN_OR_EQUAL_TO | ISO-8601 date-time |
 * | `timeRange` (executions, logs, triggers) | EQUALS | ISO-8601 duration (`PT24H`, `P7D`): from now minus it to now; not with startDate/endDate |
 * | `level` (alias `minLevel`; logs) | EQUALS (this level or more severe), NOT_EQUALS (less severe) | TRACE, DEBUG, INFO, WARN, ERROR |
 * | `q` (alias `query`) | EQUALS (contains the text, case-insensitive), NOT_EQUALS | text |
 * | `scope` | EQUALS, NOT_EQUALS | USER or SYSTEM: Sluice has no system flows, so everything is USER |
 * | `childFilter` (executions) | EQUALS, NOT_EQUALS | CHILD (started by another execution: a subflow) or MAIN |
 * | `triggerState` (triggers) | EQUALS, NOT_EQUALS | enabled or disabled: Sluice stores only enabled triggers |
 *
 * The dates compared are an execution's start date, a log line's timestamp, a trigger's next fire date. Filters, and
 * the older plain parameters, are all matched (AND); a filter repeated with several values is one filter per value.
 */
import { parseDuration, SluiceError } from '@sluice/core';
import type { FilterField, FilterOperation, LabelEntry, SearchFilter, SearchSort } from '@sluice/db';
import { FILTER_OPERATIONS, levelsFrom, LOG_LEVELS } from '@sluice/db';
import type { LogLevel } from '@sluice/db';
import type { preValidationHookHandler } from 'fastify';
import { rejectUnknownQueryParameters } from './http.js';

/** The searches that take filters (Kestra's QueryFilter.Resource). */
export type SearchResource = 'flows' | 'executions' | 'logs' | 'triggers';

/** Kestra's execution states (KESTRA.md A7). */
const STATES: readonly string[] = [
  'CREATED', 'QUEUED', 'RUNNING', 'PAUSED', 'RESTARTED', 'KILLING', 'SUCCESS', 'WARNING', 'FAILED', 'KILLED', 'CANCELLED',
  'RETRYING', 'RETRIED', 'SKIPPED',
];

type Kind = 'text' | 'state' | 'labels' | 'date' | 'duration' | 'level' | 'query' | 'scope' | 'child' | 'triggerState';

interface FieldSpec {
  /** The field as the repositories know it (timeRange becomes startDate and endDate). */
  readonly field: FilterField | 'timeRange';
  readonly kind: Kind;
  readonly operations: readonly FilterOperation[];
}

const NAME_OPERATIONS: readonly FilterOperation[] = ['EQUALS', 'NOT_EQUALS', 'CONTAINS', 'STARTS_WITH', 'ENDS_WITH', 'REGEX', 'IN', 'NOT_IN', 'PREFIX'];
const ID_OPERATIONS: readonly FilterOperation[] = ['EQUALS', 'NOT_EQUALS', 'CONTAINS', 'STARTS_WITH', 'ENDS_WITH', 'IN', 'NOT_IN'];
const DATE_OPERATIONS: readonly FilterOperation[] = ['GREATER_THAN_OR_EQUAL_TO', 'GREATER_THAN', 'LESS_THAN_OR_EQUAL_TO', 'LESS_THAN', 'EQUALS', 'NOT_EQUALS'];
const EQUALITY: readonly FilterOperation[] = ['EQUALS', 'NOT_EQUALS'];

/** Kestra's fields (their query names) and the operations each takes, as its QueryFilter.Field says; plus Sluice's aliases. */
const FIELDS: Readonly<Record<string, FieldSpec>> = {
  q: { field: 'q', kind: 'query', operations: EQUALITY },
  query: { field: 'q', kind: 'query', operations: EQUALITY },
  scope: { field: 'scope', kind: 'scope', operations: EQUALITY },
  namespace: { field: 'namespace', kind: 'text', operations: NAME_OPERATIONS },
  flowId: { field: 'flowId', kind: 'text', operations: NAME_OPERATIONS },
  labels: { field: 'labels', kind: 'labels', operations: ['EQUALS', 'NOT_EQUALS', 'IN', 'NOT_IN', 'CONTAINS'] },
  startDate: { field: 'startDate', kind: 'date', operations: DATE_OPERATIONS },
  endDate: { field: 'endDate', kind: 'date', operations: DATE_OPERATIONS },
  state: { field: 'state', kind: 'state', operations: ['EQUALS', 'NOT_EQUALS', 'IN', 'NOT_IN'] },
  timeRange: { field: 'timeRange', kind: 'duration', operations: ['EQUALS'] },
  triggerExecutionId: { field: 'triggerExecutionId', kind: 'text', operations: ID_OPERATIONS },
  triggerId: { field: 'triggerId', kind: 'text', operations: ID_OPERATIONS },
  executionId: { field: 'executionId', kind: 'text', operations: ID_OPERATIONS },
  workerId: { field: 'workerId', kind: 'text', operations: ID_OPERATIONS },
  triggerState: { field: 'triggerState', kind: 'triggerState', operations: EQUALITY },
  childFilter: { field: 'childFilter', kind: 'child', operations: EQUALITY },
  level: { field: 'level', kind: 'level', operations: EQUALITY },
  minLevel: { field: 'level', kind: 'level', operations: EQUALITY },
};

/** The fields each search takes (Kestra's QueryFilter.Resource, with timeRange where Kestra reads it). */
export const SEARCH_FIELDS: Readonly<Record<SearchResource, readonly string[]>> = {
  flows: ['namespace', 'flowId', 'labels', 'q', 'query', 'scope'],
  executions: ['namespace', 'flowId', 'state', 'labels', 'startDate', 'endDate', 'timeRange', 'q', 'query', 'scope', 'childFilter', 'triggerExecutionId'],
  logs: ['namespace', 'flowId', 'executionId', 'triggerId', 'level', 'minLevel', 'startDate', 'endDate', 'timeRange', 'q', 'query', 'scope'],
  triggers: ['namespace', 'flowId', 'triggerId', 'workerId', 'startDate', 'endDate', 'timeRange', 'q', 'query', 'scope', 'triggerState'],
};

/** `filters[field][OPERATION]` or `filters[labels][OPERATION][key]`. */
const FILTER_KEY = /^filters\[([^[\]]*)\]\[([^[\]]*)\](?:\[([^[\]]*)\])?$/;

function badRequest(parameter: string, reason: string): SluiceError {
  return new SluiceError('SLU_API_BAD_REQUEST', { reason: `${parameter}: ${reason}` }, { in: 'query', parameter });
}

function valuesOf(raw: unknown): string[] {
  if (Array.isArray(raw)) return raw.map(String);
  return raw === undefined ? [] : [String(raw)];
}

/** The items of an IN or NOT_IN value: `a,b`, `[a,b]`, or the parameter repeated. */
function listOf(parameter: string, raws: readonly string[]): string[] {
  const items = raws.flatMap((raw) => raw.replace(/^\[(.*)\]$/s, '$1').split(',')).map((item) => item.trim());
  if (items.length === 0 || items.some((item) => item === '')) throw badRequest(parameter, 'the list must not be empty or have an empty item');
  return items;
}

function parseFilterDate(parameter: string, raw: string): Date {
  const ms = Date.parse(raw);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(raw)) throw badRequest(parameter, `must be an ISO-8601 date-time, got ${JSON.stringify(raw)}`);
  return new Date(ms);
}

function parseLabel(parameter: string, text: string): LabelEntry {
  const colon = text.indexOf(':');
  if (colon <= 0) throw badRequest(parameter, `a label must be written key:value (or filters[labels][OP][key]=value), got ${JSON.stringify(text)}`);
  return { key: text.slice(0, colon), value: text.slice(colon + 1) };
}

function oneOf(parameter: string, raw: string, allowed: readonly string[]): string {
  if (!allowed.includes(raw)) throw badRequest(parameter, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw;
}

export interface ParsedSearch {
  readonly filters: SearchFilter[];
  readonly sort: SearchSort[];
  /** Whether a timeRange filter was given (it excludes the plain startDate and endDate parameters). */
  readonly timeRange: boolean;
}

/**
 * The filters and sort keys of a search's query parameters. The plain parameters (the 0.x ones, `page`, `size`) are
 * the route's own business; every `filters[...]` parameter is read here.
 * @throws SluiceError SLU_API_BAD_REQUEST naming the parameter at fault.
 */
export function parseSearchQuery(query: Readonly<Record<string, unknown>>, resource: SearchResource, sortFields: readonly string[], now: Date = new Date()): ParsedSearch {
  const filters: SearchFilter[] = [];
  const labels = new Map<FilterOperation, { parameter: string; entries: LabelEntry[] }>();
  let dated: string | undefined;
  let ranged: string | undefined;
  for (const [parameter, raw] of Object.entries(query)) {
    if (parameter !== 'filters' && !parameter.startsWith('filters[')) continue;
    const match = FILTER_KEY.exec(parameter);
    if (!match) throw badRequest(parameter, 'a filter is written filters[field][OPERATION]=value (filters[labels][OPERATION][key]=value for a label)');
    const [, name = '', operationName = '', nestedKey] = match;
    const spec = Object.hasOwn(FIELDS, name) ? FIELDS[name] : undefined;
    const accepted = SEARCH_FIELDS[resource];
    if (spec === undefined || !accepted.includes(name)) {
      throw badRequest(parameter, `unknown filter field ${JSON.stringify(name)}: this search takes ${accepted.join(', ')}`);
    }
    if (!(FILTER_OPERATIONS as readonly string[]).includes(operationName)) {
      throw badRequest(parameter, `unknown filter operation ${JSON.stringify(operationName)}: one of ${FILTER_OPERATIONS.join(', ')}`);
    }
    const operation = operationName as FilterOperation;
    if (!spec.operations.includes(operation)) {
      throw badRequest(parameter, `the field ${name} does not take the operation ${operation}: it takes ${spec.operations.join(', ')}`);
    }
    if (nestedKey !== undefined && spec.kind !== 'labels') throw badRequest(parameter, `only labels take a key: filters[${name}][${operation}]=value`);
    const raws = valuesOf(raw);
    if (raws.length === 0) throw badRequest(parameter, 'a value is required');
    const list = operation === 'IN' || operation === 'NOT_IN';
    if (spec.kind !== 'query' && raws.some((value) => value === '')) throw badRequest(parameter, 'the value must not be empty');
    const add = (filter: Omit<SearchFilter, 'field' | 'operation'>): void => {
      filters.push({ field: spec.field as FilterField, operation, ...filter });
    };
    switch (spec.kind) {
      case 'text':
        if (list) add({ values: listOf(parameter, raws) });
        else for (const value of raws) add({ values: [value] });
        break;
      case 'state': {
        const states = list ? listOf(parameter, raws) : raws;
        states.forEach((state) => oneOf(parameter, state, STATES));
        if (list) add({ values: states });
        else for (const state of states) add({ values: [state] });
        break;
      }
      case 'labels': {
        if (operation === 'CONTAINS') {
          if (nestedKey !== undefined) throw badRequest(parameter, 'CONTAINS takes a text, not a key: filters[labels][CONTAINS]=text');
          for (const text of raws) add({ values: [text] });
          break;
        }
        if (nestedKey === '') throw badRequest(parameter, 'the label key must not be empty');
        const entries = nestedKey !== undefined
          ? raws.map((value) => ({ key: nestedKey, value }))
          : (list ? listOf(parameter, raws) : raws).map((text) => parseLabel(parameter, text));
        // As Kestra: the labels of one operation make one filter (EQUALS: every one; IN: any one).
        const group = labels.get(operation) ?? { parameter, entries: [] };
        group.entries.push(...entries);
        labels.set(operation, group);
        break;
      }
      case 'date':
        dated ??= parameter;
        for (const value of raws) add({ date: parseFilterDate(parameter, value) });
        break;
      case 'duration': {
        if (raws.length > 1 || ranged !== undefined) throw badRequest(parameter, 'give one time range');
        let ms: number;
        try {
          ms = parseDuration(raws[0]!);
        } catch {
          throw badRequest(parameter, `must be an ISO-8601 duration such as PT24H or P7D, got ${JSON.stringify(raws[0])}`);
        }
        ranged = parameter;
        filters.push({ field: 'startDate', operation: 'GREATER_THAN_OR_EQUAL_TO', date: new Date(now.getTime() - ms) });
        filters.push({ field: 'endDate', operation: 'LESS_THAN_OR_EQUAL_TO', date: now });
        break;
      }
      case 'level':
        for (const value of raws) add({ values: levelsFrom(oneOf(parameter, value, LOG_LEVELS) as LogLevel) });
        break;
      case 'query':
        for (const value of raws) add({ values: [value] });
        break;
      case 'scope':
        for (const value of raws) add({ values: [oneOf(parameter, value, ['USER', 'SYSTEM'])] });
        break;
      case 'child':
        for (const value of raws) add({ values: [oneOf(parameter, value, ['CHILD', 'MAIN'])] });
        break;
      case 'triggerState':
        for (const value of raws) add({ values: [oneOf(parameter, value, ['enabled', 'disabled'])] });
        break;
    }
  }
  for (const [operation, group] of labels) filters.push({ field: 'labels', operation, labels: group.entries });
  if (ranged !== undefined && (dated !== undefined || query.startDate !== undefined || query.endDate !== undefined)) {
    throw badRequest(ranged, 'timeRange and startDate/endDate exclude each other');
  }
  return { filters, sort: parseSort(query.sort, sortFields), timeRange: ranged !== undefined };
}

/** `sort=field:asc|desc` (repeated, or comma-separated), Kestra's form; the direction defaults to asc. */
export function parseSort(raw: unknown, fields: readonly string[]): SearchSort[] {
  return valuesOf(raw)
    .flatMap((value) => value.split(','))
    .map((text) => {
      const [field = '', direction = 'asc', ...rest] = text.trim().split(':');
      if (!fields.includes(field)) throw badRequest('sort', `unknown sort field ${JSON.stringify(field)}: one of ${fields.join(', ')}`);
      const dir = direction.toLowerCase();
      if (rest.length > 0 || (dir !== 'asc' && dir !== 'desc')) throw badRequest('sort', `must be written field:asc or field:desc, got ${JSON.stringify(text)}`);
      return { field, desc: dir === 'desc' };
    });
}

/** The `sort` query parameter of a search, for its schema (the keys are listed in its description). */
export function sortProperty(fields: readonly string[]): Record<string, unknown> {
  return {
    type: 'array',
    items: { type: 'string' },
    description: `field:asc or field:desc (Kestra's form), repeated for several keys; the field one of ${fields.join(', ')}`,
  };
}

/**
 * The preValidation hook of a search route: 400 for a plain query parameter the route does not take (a misspelt
 * filter would match everything); `filters[...]` parameters pass, to be read by {@link parseSearchQuery}.
 */
export function rejectUnknownSearchParameters(querystring: { readonly properties?: Readonly<Record<string, unknown>> }): preValidationHookHandler {
  return rejectUnknownQueryParameters(querystring, (name) => name === 'filters' || name.startsWith('filters['));
}

/** The description of a search route's filters in the OpenAPI document. */
export function filtersDescription(resource: SearchResource): string {
  return `Kestra 1.x filters: filters[field][OPERATION]=value, the field one of ${SEARCH_FIELDS[resource].join(', ')}` +
    ' (labels: filters[labels][OPERATION][key]=value). An unknown field, operation or parameter is a 400.';
}

/**
 * The search's answer, with Postgres's refusal of a REGEX filter's pattern (its regular expressions are not
 * JavaScript's: the pattern is only known to be wrong once Postgres compiles it) as a 400 rather than a 500.
 */
export async function searchErrors<T>(search: Promise<T>): Promise<T> {
  try {
    return await search;
  } catch (error) {
    const text = error instanceof Error ? `${error.message} ${JSON.stringify((error as { meta?: unknown }).meta ?? '')}` : String(error);
    if (/invalid regular expression|2201B/i.test(text)) {
      throw new SluiceError('SLU_API_BAD_REQUEST', { reason: 'a REGEX filter is not a valid regular expression (POSIX, as Postgres reads it)' }, { in: 'query', parameter: 'filters' });
    }
    throw error;
  }
}

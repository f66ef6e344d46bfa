/**
 * Kestra 1.x's search filters (its `QueryFilter`: a field, an operation, a value) as SQL conditions, shared by the
 * searches of flows, executions, logs and triggers. The API parses and validates `filters[field][OPERATION]=value`
 * (which field takes which operation, which values are valid); a repository only maps each field to its columns.
 *
 * Text operations: EQUALS, NOT_EQUALS, IN, NOT_IN (exact), STARTS_WITH, ENDS_WITH, CONTAINS (case-sensitive, `%`
 * and `_` literal), REGEX (a Postgres regular expression, `~`), PREFIX (the value itself or a child: `company` matches
 * `company` and `company.team`, not `companyx`). NOT_EQUALS and NOT_IN keep rows whose column is null.
 */
import type { LabelEntry } from './execution-repository.js';
import { Prisma } from './generated/prisma/client.js';
import { escapeLike } from './rows.js';

/** Kestra's `QueryFilter.Op`. */
export const FILTER_OPERATIONS = [
  'EQUALS', 'NOT_EQUALS', 'GREATER_THAN', 'LESS_THAN', 'GREATER_THAN_OR_EQUAL_TO', 'LESS_THAN_OR_EQUAL_TO', 'IN', 'NOT_IN',
  'STARTS_WITH', 'ENDS_WITH', 'CONTAINS', 'REGEX', 'PREFIX',
] as const;
export type FilterOperation = (typeof FILTER_OPERATIONS)[number];

/** Fields compared as text, one column each. */
export type TextFilterField = 'namespace' | 'flowId' | 'executionId' | 'triggerId' | 'triggerExecutionId' | 'workerId';
/** Every field a repository understands (the API maps Kestra's names and aliases to these). */
export type FilterField = TextFilterField | 'state' | 'labels' | 'startDate' | 'endDate' | 'q' | 'level' | 'childFilter' | 'scope' | 'triggerState';

/** One filter; every filter of a search must match (AND). */
export interface SearchFilter {
  readonly field: FilterField;
  readonly operation: FilterOperation;
  /**
   * The value(s), validated by the API: one for most operations, the list of IN and NOT_IN; the text of `q` and of a
   * labels CONTAINS; the levels a `level` filter keeps; `CHILD`/`MAIN`, `USER`/`SYSTEM`, `enabled`/`disabled`.
   */
  readonly values?: readonly string[];
  /** The date of a startDate or endDate filter. */
  readonly date?: Date;
  /** The labels of a labels filter (every operation but CONTAINS). */
  readonly labels?: readonly LabelEntry[];
}

/** One sort key of a search: a name the repository lists, ascending unless `desc`. */
export interface SearchSort {
  readonly field: string;
  readonly desc: boolean;
}

/** How one resource's rows answer each field; a field it lacks is refused with a RangeError (the API never sends one). */
export interface FilterColumns {
  /** A text field's column; `null` for a field the resource accepts but does not store (it matches nothing). */
  readonly text?: Partial<Record<TextFilterField, Prisma.Sql | null>>;
  /** The date that startDate and endDate filters compare (as Kestra: the same column for both). */
  readonly date?: Prisma.Sql;
  readonly state?: Prisma.Sql;
  /** The condition "has this label", and "a label key or value contains this text" (case-insensitive). */
  readonly labels?: { has(label: LabelEntry): Prisma.Sql; contains(text: string): Prisma.Sql };
  /** The condition of `q`: the text the resource's searchable columns contain. */
  readonly query?: (text: string) => Prisma.Sql;
  readonly level?: Prisma.Sql;
  /** The parent execution column: childFilter CHILD is "not null". */
  readonly parent?: Prisma.Sql;
  /** Whether the resource answers scope (Sluice has no system flows). */
  readonly scope?: boolean;
  /** The boolean column saying a trigger is disabled (triggerState enabled/disabled). */
  readonly triggerState?: Prisma.Sql;
}

const TRUE = Prisma.sql`TRUE`;
const FALSE = Prisma.sql`FALSE`;

function refuse(filter: SearchFilter): never {
  throw new RangeError(`filter ${filter.field} ${filter.operation} is not supported here`);
}

function one(filter: SearchFilter): string {
  const value = filter.values?.[0];
  if (value === undefined) throw new RangeError(`filter ${filter.field} ${filter.operation} needs a value`);
  return value;
}

function negate(filter: SearchFilter, condition: Prisma.Sql): Prisma.Sql {
  return filter.operation === 'NOT_EQUALS' || filter.operation === 'NOT_IN' ? Prisma.sql`NOT (${condition})` : condition;
}

/**
 * `column` is `value` or one of its children (`value.<anything>`). Written with the byte-order range [value, value + '/')
 * first (`.` is followed by `/`, so the range holds `value`, every `value.` child, and only the few strings where a
 * byte below `.` follows `value`, which the exact test drops): an index with text_pattern_ops then serves it as one
 * index condition, index-only for a count. (`column = v OR column LIKE 'v.%'` alone was a filter over the whole index,
 * or a scan of the table: docs/benchmarks.md, "Search plans".)
 */
export function prefixCondition(column: Prisma.Sql, value: string): Prisma.Sql {
  return Prisma.sql`(${column} ~>=~ ${value} AND ${column} ~<~ ${`${value}/`} AND (${column} = ${value} OR ${column} LIKE ${`${escapeLike(value)}.%`}))`;
}

/** The condition of a text operation on `column` (see the file comment). */
export function textCondition(column: Prisma.Sql, filter: SearchFilter): Prisma.Sql {
  const values = [...(filter.values ?? [])];
  switch (filter.operation) {
    case 'EQUALS':
      return Prisma.sql`${column} = ${one(filter)}`;
    case 'NOT_EQUALS':
      return Prisma.sql`${column} IS DISTINCT FROM ${one(filter)}`;
    case 'IN':
      return values.length === 0 ? FALSE : Prisma.sql`${column} IN (${Prisma.join(values)})`;
    case 'NOT_IN':
      return values.length === 0 ? TRUE : Prisma.sql`(${column} IS NULL OR ${column} NOT IN (${Prisma.join(values)}))`;
    case 'STARTS_WITH':
      return Prisma.sql`${column} LIKE ${`${escapeLike(one(filter))}%`}`;
    case 'ENDS_WITH':
      return Prisma.sql`${column} LIKE ${`%${escapeLike(one(filter))}`}`;
    case 'CONTAINS':
      return Prisma.sql`${column} LIKE ${`%${escapeLike(one(filter))}%`}`;
    case 'REGEX':
      return Prisma.sql`${column} ~ ${one(filter)}`;
    case 'PREFIX':
      return prefixCondition(column, one(filter));
    default:
      return refuse(filter);
  }
}

function dateCondition(column: Prisma.Sql, filter: SearchFilter): Prisma.Sql {
  const date = filter.date;
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new RangeError(`filter ${filter.field} needs a valid date`);
  switch (filter.operation) {
    case 'EQUALS':
      return Prisma.sql`${column} = ${date}`;
    case 'NOT_EQUALS':
      return Prisma.sql`${column} IS DISTINCT FROM ${date}`;
    case 'GREATER_THAN':
      return Prisma.sql`${column} > ${date}`;
    case 'GREATER_THAN_OR_EQUAL_TO':
      return Prisma.sql`${column} >= ${date}`;
    case 'LESS_THAN':
      return Prisma.sql`${column} < ${date}`;
    case 'LESS_THAN_OR_EQUAL_TO':
      return Prisma.sql`${column} <= ${date}`;
    default:
      return refuse(filter);
  }
}

function labelsCondition(columns: NonNullable<FilterColumns['labels']>, filter: SearchFilter): Prisma.Sql {
  if (filter.operation === 'CONTAINS') return columns.contains(one(filter));
  const labels = filter.labels ?? [];
  if (labels.length === 0) throw new RangeError('a labels filter needs at least one label');
  const each = labels.map((label) => columns.has(label));
  switch (filter.operation) {
    case 'EQUALS':
      return Prisma.sql`(${Prisma.join(each, ' AND ')})`;
    case 'IN':
      return Prisma.sql`(${Prisma.join(each, ' OR ')})`;
    case 'NOT_EQUALS':
    case 'NOT_IN':
      return Prisma.sql`NOT (${Prisma.join(each, ' OR ')})`;
    default:
      return refuse(filter);
  }
}

/** One filter as a condition, with the resource's columns. @throws RangeError for a field or operation it lacks. */
export function filterCondition(filter: SearchFilter, columns: FilterColumns): Prisma.Sql {
  const positive = filter.operation === 'EQUALS' || filter.operation === 'IN';
  const exclusive = filter.operation === 'NOT_EQUALS' || filter.operation === 'NOT_IN';
  switch (filter.field) {
    case 'startDate':
    case 'endDate':
      return columns.date ? dateCondition(columns.date, filter) : refuse(filter);
    case 'state': {
      if (!columns.state || !(positive || exclusive)) return refuse(filter);
      const values = [...(filter.values ?? [])];
      return values.length === 0 ? (positive ? FALSE : TRUE) : negate(filter, Prisma.sql`${columns.state} IN (${Prisma.join(values)})`);
    }
    case 'labels':
      return columns.labels ? labelsCondition(columns.labels, filter) : refuse(filter);
    case 'q': {
      if (!columns.query || !(positive || exclusive)) return refuse(filter);
      const text = one(filter);
      return text === '' ? (positive ? TRUE : FALSE) : negate(filter, columns.query(text));
    }
    case 'level': {
      if (!columns.level || !(positive || exclusive)) return refuse(filter);
      return negate(filter, Prisma.sql`${columns.level} IN (${Prisma.join([...(filter.values ?? [])])})`);
    }
    case 'childFilter': {
      if (!columns.parent || !(positive || exclusive)) return refuse(filter);
      const child = one(filter) === 'CHILD';
      return (child === positive) ? Prisma.sql`${columns.parent} IS NOT NULL` : Prisma.sql`${columns.parent} IS NULL`;
    }
    case 'scope': {
      // Sluice has no system flows (Kestra's system namespace): everything is USER.
      if (!columns.scope || !(positive || exclusive)) return refuse(filter);
      const user = (filter.values ?? []).includes('USER');
      return user === positive ? TRUE : FALSE;
    }
    case 'triggerState': {
      // The flag set over the API; a trigger disabled in its flow's YAML only is not a disabled row.
      if (!columns.triggerState || !(positive || exclusive)) return refuse(filter);
      const enabled = one(filter) === 'enabled';
      return enabled === positive ? Prisma.sql`NOT ${columns.triggerState}` : columns.triggerState;
    }
    default: {
      const column = columns.text?.[filter.field];
      if (column === undefined) return refuse(filter);
      // A field the resource does not store is null on every row: only the negative operations keep rows.
      if (column === null) return filter.operation === 'NOT_EQUALS' || filter.operation === 'NOT_IN' ? TRUE : FALSE;
      return textCondition(column, filter);
    }
  }
}

/** Every filter as a condition (an empty list for none). */
export function filterConditions(filters: readonly SearchFilter[] | undefined, columns: FilterColumns): Prisma.Sql[] {
  return (filters ?? []).map((filter) => filterCondition(filter, columns));
}

/**
 * `ORDER BY` for these sort keys (each one listed in `columns`), then `tieBreak` so that pages never overlap; the
 * default order when `sort` is empty. @throws RangeError for a key not in `columns`.
 */
export function orderBy(
  sort: readonly SearchSort[] | undefined,
  columns: Readonly<Record<string, Prisma.Sql>>,
  fallback: Prisma.Sql,
  tieBreak: Prisma.Sql,
): Prisma.Sql {
  if (sort === undefined || sort.length === 0) return fallback;
  const keys = sort.map((key) => {
    const column = Object.hasOwn(columns, key.field) ? columns[key.field] : undefined;
    if (column === undefined) throw new RangeError(`unknown sort field ${JSON.stringify(key.field)}: one of ${Object.keys(columns).join(', ')}`);
    return key.desc ? Prisma.sql`${column} DESC` : Prisma.sql`${column} ASC`;
  });
  return Prisma.sql`${Prisma.join(keys, ', ')}, ${tieBreak}`;
}

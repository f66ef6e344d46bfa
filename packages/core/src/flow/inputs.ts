/**
 * Typing of execution inputs, as Kestra does it (KESTRA.md A1): the values a caller gives (multipart form fields are
 * strings; repeated fields are string lists; FILE inputs are storage references) become typed values, the flow's
 * `defaults` fill what is absent, `required` (default true) is checked and unknown inputs are refused.
 *
 * Every problem of every input is collected into ONE `SLU_INPUT_INVALID` error (`details.problems: [{input,
 * message}]`), so a client fixes all of them in one round trip. Pure: no I/O; FILE inputs are stored by the caller
 * (the API streams uploads into the internal storage) and arrive here as a {@link FileRef}.
 *
 * Normalised forms: INT and FLOAT are numbers; BOOLEAN/BOOL booleans; DATETIME an ISO-8601 instant in UTC
 * (`2024-01-02T03:04:05Z`, milliseconds only when not zero, like Java's `Instant.toString()`); DATE `YYYY-MM-DD`;
 * TIME `HH:mm[:ss[.SSS]]` like Java's `LocalTime.toString()`; DURATION Java's `Duration.toString()` (`P1D` →
 * `PT24H`); JSON and YAML the parsed value; MULTISELECT and ARRAY lists; FILE the `kestra:///` URI.
 *
 * Left out for now: `{{ }}` expressions in `defaults` (a string default holding `{{` is passed through unrendered),
 * `dependsOn`, and SELECT `values` given as an expression (then any value is accepted).
 */
import { SluiceError } from '../errors.js';
import { formatDuration, parseDuration } from '../schedule/index.js';
import { didYouMean } from '../suggest.js';
import type { FlowInput, InputType } from './model.js';
import { parseYamlDocuments } from './source.js';

/** A FILE input already stored by the caller: its internal-storage URI. */
export interface FileRef {
  readonly uri: string;
}

export interface InputProblem {
  /** The input's id. */
  readonly input: string;
  /** What is wrong, without the input's name: `must be an integer, got "abc"`. */
  readonly message: string;
}

export interface ResolveInputsOptions {
  /**
   * A FILE input given as a plain string is accepted only when it is a URI starting with this prefix (the
   * execution's own storage folder, `kestra:///ns/flow/executions/id/`). Without it, FILE inputs must be
   * {@link FileRef}s, so a caller cannot point an execution at someone else's file by naming its URI.
   */
  readonly fileUriPrefix?: string;
}

export function isFileRef(value: unknown): value is FileRef {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { uri?: unknown }).uri === 'string';
}

/** Thrown inside the typers: one input's problem. */
class Problem extends Error {}

const LIST_TYPES = new Set<InputType>(['MULTISELECT', 'ARRAY']);
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const URI_SCHEME_PATTERN = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
const INT_PATTERN = /^[+-]?\d+$/;
const FLOAT_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_PATTERN = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;
const DATETIME_PATTERN = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2})$/;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** A single scalar from a caller's value: a one-element list (a form field given once) is its element. */
function single(value: unknown): unknown {
  if (Array.isArray(value)) {
    if (value.length === 1) return value[0];
    throw new Problem(`expects one value, got ${value.length}`);
  }
  return value;
}

function text(value: unknown, expected: string): string {
  const v = single(value);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Problem(`must be ${expected}, got ${show(v)}`);
}

function validDate(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function validTime(hour: number, minute: number, second: number): boolean {
  return hour <= 23 && minute <= 59 && second <= 59;
}

/** Java's `LocalTime.toString()` fraction: 3, 6 or 9 digits, or none when zero. */
function javaFraction(fraction: string | undefined): string {
  if (!fraction || /^0*$/.test(fraction)) return '';
  const padded = fraction.padEnd(9, '0');
  if (padded.endsWith('000000')) return `.${padded.slice(0, 3)}`;
  if (padded.endsWith('000')) return `.${padded.slice(0, 6)}`;
  return `.${padded}`;
}

function typeDatetime(value: unknown): string {
  const raw = text(value, 'an ISO-8601 date-time');
  const match = DATETIME_PATTERN.exec(raw);
  const expected = `must be an ISO-8601 date-time with a time zone (2024-01-31T10:00:00Z), got ${show(raw)}`;
  if (!match) throw new Problem(expected);
  const [, year, month, day, hour, minute, second] = match;
  if (!validDate(Number(year), Number(month), Number(day)) || !validTime(Number(hour), Number(minute), Number(second ?? 0))) {
    throw new Problem(expected);
  }
  const ms = Date.parse(raw.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  if (Number.isNaN(ms)) throw new Problem(expected);
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

function typeDate(value: unknown): string {
  const raw = text(value, 'a date');
  const match = DATE_PATTERN.exec(raw);
  if (!match || !validDate(Number(match[1]), Number(match[2]), Number(match[3]))) {
    throw new Problem(`must be an ISO-8601 date (2024-01-31), got ${show(raw)}`);
  }
  return raw;
}

function typeTime(value: unknown): string {
  const raw = text(value, 'a time');
  const match = TIME_PATTERN.exec(raw);
  if (!match || !validTime(Number(match[1]), Number(match[2]), Number(match[3] ?? 0))) {
    throw new Problem(`must be an ISO-8601 local time (10:15 or 10:15:30), got ${show(raw)}`);
  }
  const [, hour, minute, second, fraction] = match;
  const tail = javaFraction(fraction);
  return Number(second ?? 0) === 0 && tail === '' ? `${hour}:${minute}` : `${hour}:${minute}:${second ?? '00'}${tail}`;
}

function typeNumber(input: FlowInput, value: unknown, integer: boolean): number {
  const v = single(value);
  let n: number;
  if (typeof v === 'number') {
    n = v;
  } else if (typeof v === 'string' && (integer ? INT_PATTERN : FLOAT_PATTERN).test(v.trim())) {
    n = Number(v.trim());
  } else {
    throw new Problem(`must be ${integer ? 'an integer' : 'a number'}, got ${show(v)}`);
  }
  if (!Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
    throw new Problem(`must be ${integer ? `an integer between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}` : 'a finite number'}, got ${show(v)}`);
  }
  const min = input.min === undefined ? undefined : Number(input.min);
  const max = input.max === undefined ? undefined : Number(input.max);
  if (min !== undefined && !Number.isNaN(min) && n < min) throw new Problem(`must be at least ${min}, got ${n}`);
  if (max !== undefined && !Number.isNaN(max) && n > max) throw new Problem(`must be at most ${max}, got ${n}`);
  return n;
}

function typeBoolean(value: unknown): boolean {
  const v = single(value);
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const lower = v.trim().toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  throw new Problem(`must be true or false, got ${show(v)}`);
}

function typeString(input: FlowInput, value: unknown): string {
  const s = text(value, 'a string');
  if (typeof input.minLength === 'number' && s.length < input.minLength) throw new Problem(`must be at least ${input.minLength} characters long`);
  if (typeof input.maxLength === 'number' && s.length > input.maxLength) throw new Problem(`must be at most ${input.maxLength} characters long`);
  if (typeof input.validator === 'string') {
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${input.validator})$`, 'u');
    } catch {
      throw new Problem(`the flow's validator ${show(input.validator)} is not a valid regular expression`);
    }
    if (!pattern.test(s)) throw new Problem(`must match ${input.validator}, got ${input.type === 'SECRET' ? 'a value that does not' : show(s)}`);
  }
  return s;
}

function allowedValues(input: FlowInput): readonly unknown[] | undefined {
  return Array.isArray(input.values) && input.allowCustomValue !== true ? input.values : undefined;
}

function typeChoice(input: FlowInput, value: unknown): string {
  const s = text(value, 'a string');
  const allowed = allowedValues(input);
  if (allowed && !allowed.some((a) => String(a) === s)) {
    throw new Problem(`must be one of ${allowed.map((a) => JSON.stringify(String(a))).join(', ')}, got ${show(s)}`);
  }
  return s;
}

/** A list from a JSON array text, or repeated form fields (a list given as is). */
function list(value: unknown): unknown[] {
  if (Array.isArray(value)) {
    if (value.length === 1 && typeof value[0] === 'string' && value[0].trim().startsWith('[')) return list(value[0]);
    return value;
  }
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.startsWith('[')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(trimmed);
      } catch (error) {
        throw new Problem(`must be a JSON list, got invalid JSON: ${(error as Error).message}`);
      }
      if (Array.isArray(parsed)) return parsed;
    }
    return [value];
  }
  throw new Problem(`must be a list (a JSON array or the field repeated), got ${show(value)}`);
}

function typeJson(value: unknown): unknown {
  const v = single(value);
  if (typeof v !== 'string') return v; // a default written as YAML structure, or a JSON caller's value
  try {
    return JSON.parse(v);
  } catch (error) {
    throw new Problem(`must be valid JSON: ${(error as Error).message}`);
  }
}

function typeYaml(value: unknown): unknown {
  const v = single(value);
  if (typeof v !== 'string') return v;
  const documents = parseYamlDocuments(v, { maxAliasCount: 100 });
  const problem = documents.flatMap((d) => d.problems)[0];
  if (problem) throw new Problem(`must be valid YAML: ${problem.message}`);
  if (documents.length > 1) throw new Problem('must be one YAML document, got several');
  return documents[0]?.value ?? null;
}

function typeFile(value: unknown, options: ResolveInputsOptions): string {
  const v = single(value);
  if (isFileRef(v)) return v.uri;
  if (typeof v === 'string' && options.fileUriPrefix !== undefined && v.startsWith(options.fileUriPrefix) && !v.includes('/../')) return v;
  throw new Problem('must be uploaded as a file (a multipart file part named after the input)');
}

function typeValue(input: FlowInput, type: InputType, value: unknown, options: ResolveInputsOptions): unknown {
  switch (type) {
    case 'STRING':
    case 'SECRET':
      return typeString(input, value);
    case 'EMAIL': {
      const s = typeString(input, value);
      if (!EMAIL_PATTERN.test(s)) throw new Problem(`must be an e-mail address, got ${show(s)}`);
      return s;
    }
    case 'URI': {
      const s = typeString(input, value);
      let ok = URI_SCHEME_PATTERN.test(s) && !/\s/.test(s);
      if (ok) {
        try {
          new URL(s);
        } catch {
          ok = false;
        }
      }
      if (!ok) throw new Problem(`must be an absolute URI (https://example.com/x), got ${show(s)}`);
      return s;
    }
    case 'INT':
      return typeNumber(input, value, true);
    case 'FLOAT':
      return typeNumber(input, value, false);
    case 'BOOLEAN':
    case 'BOOL':
      return typeBoolean(value);
    case 'DATETIME':
      return typeDatetime(value);
    case 'DATE':
      return typeDate(value);
    case 'TIME':
      return typeTime(value);
    case 'DURATION': {
      const s = text(value, 'an ISO-8601 duration');
      try {
        return formatDuration(parseDuration(s));
      } catch (error) {
        throw new Problem(`must be an ISO-8601 duration (PT30S, PT1H30M, P1D): ${(error as SluiceError).params?.reason ?? (error as Error).message}`);
      }
    }
    case 'JSON':
      return typeJson(value);
    case 'YAML':
      return typeYaml(value);
    case 'SELECT':
    case 'ENUM':
      return typeChoice(input, value);
    case 'MULTISELECT': {
      const items = list(value).map((item) => text(item, 'a list of strings'));
      const allowed = allowedValues(input);
      const bad = allowed ? items.filter((item) => !allowed.some((a) => String(a) === item)) : [];
      if (allowed && bad.length > 0) {
        throw new Problem(`${bad.map((b) => show(b)).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not among ${allowed.map((a) => JSON.stringify(String(a))).join(', ')}`);
      }
      return items;
    }
    case 'ARRAY': {
      const itemType = typeof input.itemType === 'string' ? (input.itemType as InputType) : 'STRING';
      if (LIST_TYPES.has(itemType) || itemType === 'FILE') throw new Problem(`itemType ${itemType} is not supported`);
      return list(value).map((item, index) => {
        try {
          return typeValue(input, itemType, item, options);
        } catch (error) {
          if (error instanceof Problem) throw new Problem(`item ${index}: ${error.message}`);
          throw error;
        }
      });
    }
    case 'FILE':
      return typeFile(value, options);
    default:
      throw new Problem(`has an unsupported type ${show(type)}`);
  }
}

/** A default holding an unrendered `{{ }}` expression: passed through as is (see the module comment). */
function isExpression(value: unknown): boolean {
  return typeof value === 'string' && value.includes('{{');
}

/**
 * Type the `given` values against the flow's `inputs`, apply defaults and check required inputs.
 *
 * The result holds every declared input: its typed value, or `null` when it is optional, absent and has no
 * default (so `{{ inputs.x }}` of an optional input is null rather than an undefined variable).
 *
 * @throws SluiceError `SLU_INPUT_INVALID` with `details.problems: InputProblem[]` listing every problem.
 */
export function resolveInputs(
  flowInputs: readonly FlowInput[] | undefined,
  given: Readonly<Record<string, string | FileRef | unknown>>,
  options: ResolveInputsOptions = {},
): Record<string, unknown> {
  const declared = flowInputs ?? [];
  const problems: InputProblem[] = [];
  const resolved: Record<string, unknown> = {};
  const known = new Set(declared.map((input) => input.id));

  for (const key of Object.keys(given)) {
    if (known.has(key)) continue;
    const hint = didYouMean(key, known);
    problems.push({
      input: key,
      message: `unknown input: the flow declares ${known.size === 0 ? 'no inputs' : [...known].map((k) => `"${k}"`).join(', ')}${hint}`,
    });
  }

  for (const input of declared) {
    const value = Object.prototype.hasOwnProperty.call(given, input.id) ? given[input.id] : undefined;
    const absent = value === undefined || value === null || (Array.isArray(value) && value.length === 0);
    if (absent) {
      if (input.defaults !== undefined && input.defaults !== null) {
        if (isExpression(input.defaults)) {
          resolved[input.id] = input.defaults;
          continue;
        }
        try {
          resolved[input.id] = typeValue(input, input.type, input.defaults, options);
        } catch (error) {
          if (!(error instanceof Problem)) throw error;
          problems.push({ input: input.id, message: `the flow's default value is invalid: ${error.message}` });
        }
      } else if (input.required ?? true) {
        problems.push({ input: input.id, message: `is required (${input.type}) and was not given` });
      } else {
        resolved[input.id] = null;
      }
      continue;
    }
    try {
      resolved[input.id] = typeValue(input, input.type, value, options);
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      problems.push({ input: input.id, message: error.message });
    }
  }

  if (problems.length > 0) {
    const summary = problems.map((p) => `${p.input}: ${p.message}`).join('; ');
    throw new SluiceError('SLU_INPUT_INVALID', { summary }, { problems });
  }
  return resolved;
}

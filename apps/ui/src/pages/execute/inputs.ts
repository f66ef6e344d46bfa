/**
 * The execute form's model, pure: which control each flow input type gets, the value a field starts with (the input's
 * `defaults`), the checks made before sending, and how a field's value travels in the multipart body
 * `POST /executions/{ns}/{id}` reads (form fields, repeated for lists; FILE inputs as file parts).
 *
 * The input types are Sluice's (packages/core/src/flow/model.ts `INPUT_TYPES`): STRING, ENUM, SELECT, MULTISELECT,
 * INT, FLOAT, BOOLEAN, BOOL, DATETIME, DATE, TIME, DURATION, FILE, JSON, YAML, URI, SECRET, ARRAY, EMAIL.
 */
import type { FlowInput } from '../../types';
import { isoToLocalInput, localInputToIso } from '../executions/filters';

export type Control =
  | 'text'
  | 'email'
  | 'url'
  | 'password'
  | 'int'
  | 'float'
  | 'checkbox'
  | 'tristate'
  | 'select'
  | 'combo'
  | 'multiselect'
  | 'date'
  | 'time'
  | 'datetime'
  | 'duration'
  | 'file'
  | 'json'
  | 'yaml'
  | 'list';

/** A field's value: text for most, the chosen items of a MULTISELECT, the file of a FILE input. */
export type FieldValue = string | readonly string[] | File | null;

/** Whether the input must be given: Kestra's default is true. */
export const isRequired = (input: FlowInput): boolean => input.required !== false;

export const hasDefault = (input: FlowInput): boolean => input.defaults !== undefined && input.defaults !== null;

/** A default holding a `{{ }}` expression: the server applies it when the field is not sent. */
export const isExpressionDefault = (input: FlowInput): boolean => typeof input.defaults === 'string' && input.defaults.includes('{{');

const choices = (input: FlowInput): string[] | undefined => (Array.isArray(input.values) ? input.values.map((v) => String(v)) : undefined);

export function controlOf(input: FlowInput): Control {
  switch (input.type.toUpperCase()) {
    case 'EMAIL':
      return 'email';
    case 'URI':
      return 'url';
    case 'SECRET':
      return 'password';
    case 'INT':
      return 'int';
    case 'FLOAT':
      return 'float';
    case 'BOOLEAN':
    case 'BOOL':
      // A checkbox always sends true or false: an optional input without a default may also be left unset.
      return isRequired(input) || hasDefault(input) ? 'checkbox' : 'tristate';
    case 'SELECT':
    case 'ENUM':
      if (!choices(input)) return 'text';
      return input.allowCustomValue === true ? 'combo' : 'select';
    case 'MULTISELECT':
      return choices(input) ? 'multiselect' : 'list';
    case 'ARRAY':
      return 'list';
    case 'DATE':
      return 'date';
    case 'TIME':
      return 'time';
    case 'DATETIME':
      return 'datetime';
    case 'DURATION':
      return 'duration';
    case 'FILE':
      return 'file';
    case 'JSON':
      return 'json';
    case 'YAML':
      return 'yaml';
    default:
      return 'text';
  }
}

export function choicesOf(input: FlowInput): string[] {
  return choices(input) ?? [];
}

function itemText(item: unknown): string {
  return typeof item === 'string' ? item : JSON.stringify(item);
}

/** A default as readable text, for the hint under a field. */
export function defaultText(input: FlowInput): string {
  const value = input.defaults;
  if (value === undefined || value === null) return '';
  if (input.type.toUpperCase() === 'SECRET') return '••••••';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The value a field starts with: the input's default, in the control's form. */
export function initialValue(input: FlowInput): FieldValue {
  const control = controlOf(input);
  const value = input.defaults;
  const absent = value === undefined || value === null || isExpressionDefault(input);
  switch (control) {
    case 'file':
      return null;
    case 'checkbox':
      return !absent && String(value).toLowerCase() === 'true' ? 'true' : 'false';
    case 'tristate':
      return absent ? '' : String(value).toLowerCase();
    case 'multiselect': {
      if (absent) return [];
      if (Array.isArray(value)) return value.map(itemText);
      const text = String(value).trim();
      if (text.startsWith('[')) {
        try {
          const parsed = JSON.parse(text) as unknown;
          if (Array.isArray(parsed)) return parsed.map(itemText);
        } catch {
          // not JSON: one item
        }
      }
      return [text];
    }
    case 'list':
      if (absent) return '';
      return Array.isArray(value) ? value.map(itemText).join('\n') : String(value);
    case 'json':
    case 'yaml':
      if (absent) return '';
      return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
    case 'datetime':
      return absent ? '' : isoToLocalInput(String(value)) || String(value);
    default:
      if (absent) return '';
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
}

/** Whether a field holds nothing (it is then left out of the request, so the server applies the default). */
export function isEmpty(value: FieldValue): boolean {
  if (value === null) return true;
  if (typeof value === 'string') return value.trim() === '';
  if (value instanceof File) return false;
  return value.length === 0;
}

/** What a number field holds when the browser cannot read what was typed as a number. */
export const BAD_NUMBER = 'NaN';

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function bounds(input: FlowInput, n: number): string | undefined {
  const min = input.min === undefined || input.min === null ? undefined : Number(input.min);
  const max = input.max === undefined || input.max === null ? undefined : Number(input.max);
  if (min !== undefined && !Number.isNaN(min) && n < min) return `Must be at least ${min}.`;
  if (max !== undefined && !Number.isNaN(max) && n > max) return `Must be at most ${max}.`;
  return undefined;
}

/** What is wrong with a field's value before sending it, or undefined (the server checks the rest). */
export function clientProblem(input: FlowInput, value: FieldValue): string | undefined {
  const control = controlOf(input);
  if (isEmpty(value)) {
    if (control === 'checkbox') return undefined;
    return isRequired(input) && !hasDefault(input) ? 'This input is required.' : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  switch (control) {
    case 'int':
      if (!INT.test(text) || !Number.isSafeInteger(Number(text))) return 'Must be a whole number.';
      return bounds(input, Number(text));
    case 'float':
      if (!FLOAT.test(text) || !Number.isFinite(Number(text))) return 'Must be a number.';
      return bounds(input, Number(text));
    case 'json':
      try {
        JSON.parse(text);
      } catch (error) {
        return `Not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
      }
      return undefined;
    case 'datetime':
      return localInputToIso(text) === undefined ? 'Must be a date and time.' : undefined;
    case 'email':
      return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(text) ? undefined : 'Must be an e-mail address.';
    case 'url':
      try {
        new URL(text);
        return undefined;
      } catch {
        return 'Must be an absolute URI (https://example.com/x).';
      }
    default:
      return undefined;
  }
}

/** Add a field to the multipart body as the API reads it; an empty field is left out (the default applies). */
export function appendField(form: FormData, input: FlowInput, value: FieldValue): void {
  const control = controlOf(input);
  if (control === 'checkbox') {
    form.append(input.id, value === 'true' ? 'true' : 'false');
    return;
  }
  if (isEmpty(value) || value === null) return;
  if (value instanceof File) {
    form.append(input.id, value, value.name);
    return;
  }
  if (typeof value !== 'string') {
    for (const item of value) form.append(input.id, item);
    return;
  }
  switch (control) {
    case 'list': {
      const text = value.trim();
      // A JSON list is sent as it is; otherwise one item a line, each a repeated field.
      if (text.startsWith('[')) form.append(input.id, text);
      else
        for (const line of value.split('\n')) {
          if (line.trim() !== '') form.append(input.id, line.trim());
        }
      return;
    }
    case 'datetime':
      form.append(input.id, localInputToIso(value) ?? value);
      return;
    case 'json':
    case 'yaml':
    case 'password':
      form.append(input.id, value);
      return;
    default:
      form.append(input.id, value.trim());
  }
}

/** What the field's type is, in words, for the hint under it. */
export function typeHint(input: FlowInput): string {
  switch (controlOf(input)) {
    case 'duration':
      return 'An ISO-8601 duration: PT30S, PT1H30M, P1D.';
    case 'list':
      return `One item a line (or a JSON list)${typeof input.itemType === 'string' ? `, each ${input.itemType}` : ''}.`;
    case 'json':
      return 'JSON.';
    case 'yaml':
      return 'YAML (JSON is YAML too).';
    case 'datetime':
      return `In your time zone (${Intl.DateTimeFormat().resolvedOptions().timeZone}); sent as UTC.`;
    case 'time':
      return 'A local time: 10:15 or 10:15:30.';
    default:
      return '';
  }
}

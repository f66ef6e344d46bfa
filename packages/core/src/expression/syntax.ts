/** Cheap checks on template text that need no parsing. */

const DELIMITER = /\{[{%#]/;

/** Whether `value` contains a template delimiter (`{{`, `{%` or `{#`) and so needs rendering. */
export function hasExpression(value: string): boolean {
  return DELIMITER.test(value);
}

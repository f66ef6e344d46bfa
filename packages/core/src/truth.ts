/**
 * Kestra's truthiness, used wherever a flow gives a condition as text: If's `condition`, Fail's `condition`, WaitFor's
 * exit `condition`, a task's `runIf`. The value is taken as the text it renders to, and only a few texts are false:
 * nothing at all (null, undefined), `false`, `0`, `-0` and the empty string, compared exactly (case-sensitive, no
 * trimming). Everything else is true, including `False`, `FALSE`, `0.0`, `" false"`, `null` written as text, `[]` and
 * `{}`.
 */

const FALSE_TEXTS: ReadonlySet<string> = new Set(['false', '0', '-0', '']);

/**
 * Whether a rendered condition counts as true (see the module comment). Non-string values count as the text they
 * render to: `false` → "false", `0` and `-0` → "0" (so both are false), `true`, other numbers, lists and maps are true.
 */
export function isTruthy(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === 'string') return !FALSE_TEXTS.has(value);
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return !FALSE_TEXTS.has(String(value));
  return true;
}

/** What a secret is replaced with, as in Kestra. */
export const MASK = '******';

/** Values shorter than this are not masked: masking `a` or `no` would shred every log line. */
export const MIN_MASKED_LENGTH = 3;

/**
 * Remembers the secret values rendered during one run (a task, or a WorkingDirectory and all its children) and
 * masks them in log lines and outputs.
 *
 * Every occurrence is replaced, anywhere in a string, longest value first: when one secret contains another, the
 * longer one is masked whole. A multi-line secret (a private key) is also remembered line by line, because
 * commands print output one line at a time.
 *
 * It leaves out: transformed forms of a secret (base64, URL-encoded, split across two log calls) and map keys.
 */
export class Masker {
  readonly #values = new Set<string>();
  #pattern: RegExp | undefined;

  /** Remember a value to mask from now on. */
  add(value: string): void {
    const candidates = [value, ...(value.includes('\n') ? value.split(/\r?\n/) : [])];
    for (const candidate of candidates) {
      if (candidate.length >= MIN_MASKED_LENGTH && !this.#values.has(candidate)) {
        this.#values.add(candidate);
        this.#pattern = undefined;
      }
    }
  }

  /** How many values are remembered. */
  get size(): number {
    return this.#values.size;
  }

  /** `text` with every remembered value replaced by `******`. */
  mask(text: string): string {
    if (this.#values.size === 0 || text.length < MIN_MASKED_LENGTH) return text;
    // Alternatives are tried in order at each position, so sorting longest first masks the longest match.
    this.#pattern ??= new RegExp(
      [...this.#values]
        .sort((a, b) => b.length - a.length)
        .map((value) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    );
    return text.replace(this.#pattern, MASK);
  }

  /**
   * A copy of `value` with every string inside (arrays and plain objects, recursively) masked. Other values
   * (numbers, booleans, null, dates, class instances) are returned as they are.
   */
  maskDeep<V>(value: V): V {
    return this.#maskDeep(value, new Set()) as V;
  }

  #maskDeep(value: unknown, ancestors: Set<object>): unknown {
    if (typeof value === 'string') return this.mask(value);
    if (typeof value !== 'object' || value === null) return value;
    if (ancestors.has(value)) return '[Circular]';
    const isArray = Array.isArray(value);
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (!isArray && prototype !== Object.prototype && prototype !== null) return value;
    ancestors.add(value);
    try {
      if (isArray) return value.map((item: unknown) => this.#maskDeep(item, ancestors));
      const copy: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) {
        // defineProperty, not assignment: an own `__proto__` key must stay data.
        Object.defineProperty(copy, key, { value: this.#maskDeep(item, ancestors), enumerable: true, writable: true, configurable: true });
      }
      return copy;
    } finally {
      ancestors.delete(value);
    }
  }
}

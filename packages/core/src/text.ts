/**
 * Characters Sluice refuses in anything it stores: NUL (U+0000), which Postgres cannot hold in `text` or `jsonb`
 * (22021, 22P05), and lone UTF-16 surrogates (U+D800 to U+DFFF without their pair), which are not Unicode text at
 * all (jsonb refuses `"\ud800"`, UTF-8 encoders replace them silently). Flows are checked by the validator
 * (`SLU_FLOW_INVALID_CHARACTER`), the API's inputs, labels, path segments and query parameters by the API
 * (`SLU_API_INVALID_CHARACTER`).
 */

// A NUL, a high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
// eslint-disable-next-line no-control-regex -- finding the NUL control character is the point
const INVALID = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface InvalidCharacter {
  /** 0-based UTF-16 index in the text. */
  readonly index: number;
  /** What it is, for a message: `a NUL character (U+0000)`, `a lone surrogate (U+D800)`. */
  readonly description: string;
}

/** The first NUL or lone surrogate of `text`, or undefined when there is none. */
export function findInvalidCharacter(text: string): InvalidCharacter | undefined {
  const match = INVALID.exec(text);
  if (!match) return undefined;
  const code = match[0].charCodeAt(0);
  const hex = code.toString(16).toUpperCase().padStart(4, '0');
  return { index: match.index, description: code === 0 ? 'a NUL character (U+0000)' : `a lone surrogate (U+${hex})` };
}

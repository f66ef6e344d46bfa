import { SluiceError } from '@sluice/core';

/** Looks up `secret('NAME')` values. */
export interface SecretProvider {
  /**
   * The value of a secret, as Kestra's environment-variable secrets: `SECRET_<NAME>` (upper-cased name; the value
   * base64-encoded, line breaks ignored) wins over `SLUICE_SECRET_<NAME>` (plain text). An empty value is a set,
   * empty secret.
   *
   * @throws SluiceError `SLU_EXPR_FUNCTION_FAILED` `{name: 'secret', reason}` when neither variable is set, when
   *   the name is not a non-empty string, or when `SECRET_<NAME>` is not valid base64 of UTF-8 text.
   */
  secret(name: string): string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function failed(reason: string): SluiceError {
  return new SluiceError('SLU_EXPR_FUNCTION_FAILED', { name: 'secret', reason });
}

/**
 * Decode as Java's `Base64.getDecoder()` (what Kestra uses): the standard alphabet only, padding optional. The bytes
 * must also be UTF-8 text: a plain value put in `SECRET_X` by mistake often decodes to bytes that are not, and
 * failing then beats handing garbage to a command.
 */
function decodeBase64(variable: string, encoded: string): string {
  const compact = encoded.replace(/[\r\n]/g, '');
  const unpadded = compact.replace(/=+$/, '');
  const valid = BASE64.test(compact) && unpadded.length % 4 !== 1 && (compact.length % 4 === 0 || compact === unpadded);
  if (valid) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
    } catch {
      // falls through to the error below
    }
  }
  return failedBase64(variable);
}

function failedBase64(variable: string): never {
  throw failed(`${variable} is not valid base64-encoded UTF-8 text (encode the value with \`base64\`, or set SLUICE_${variable} to the plain value instead)`);
}

/**
 * Secrets from an environment record. The worker passes its own `process.env` (read once, at startup): secrets
 * never travel through Redis or Postgres (DESIGN.md §3). Values are looked up on each call; nothing is cached.
 */
export function createSecretProvider(env: Readonly<Record<string, string | undefined>>): SecretProvider {
  return {
    secret(name: string): string {
      if (typeof name !== 'string' || name.trim() === '') throw failed('expects the name of a secret (a non-empty string)');
      const key = name.toUpperCase();
      const encoded = env[`SECRET_${key}`];
      if (encoded !== undefined) return decodeBase64(`SECRET_${key}`, encoded);
      const plain = env[`SLUICE_SECRET_${key}`];
      if (plain !== undefined) return plain;
      throw failed(`secret "${name}" is not set (set SECRET_${key} base64-encoded or SLUICE_SECRET_${key})`);
    },
  };
}

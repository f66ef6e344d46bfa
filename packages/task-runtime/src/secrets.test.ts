import { describe, expect, it } from 'vitest';
import { SluiceError } from '@sluice/core';
import { createSecretProvider } from './secrets.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

function failure(run: () => unknown): SluiceError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SluiceError);
    return error as SluiceError;
  }
  throw new Error('expected an error');
}

describe('createSecretProvider', () => {
  it('decodes SECRET_<NAME> from base64, upper-casing the name and ignoring line breaks', () => {
    const long = 'x'.repeat(100);
    const wrapped = b64(long).replace(/(.{76})/g, '$1\n');
    const secrets = createSecretProvider({ SECRET_GITHUB_TOKEN: b64('ghp_s3cr3t'), SECRET_LONG: wrapped, SECRET_UNI: b64('pässwörd') });
    expect(secrets.secret('github_token')).toBe('ghp_s3cr3t');
    expect(secrets.secret('GITHUB_TOKEN')).toBe('ghp_s3cr3t');
    expect(secrets.secret('long')).toBe(long);
    expect(secrets.secret('uni')).toBe('pässwörd');
  });

  it('accepts base64 without padding, as Java does', () => {
    expect(createSecretProvider({ SECRET_A: 'YWI' }).secret('a')).toBe('ab');
  });

  it('reads SLUICE_SECRET_<NAME> as plain text; SECRET_ wins', () => {
    expect(createSecretProvider({ SLUICE_SECRET_DB_PASSWORD: 'plain value' }).secret('db_password')).toBe('plain value');
    expect(createSecretProvider({ SECRET_X: b64('from base64'), SLUICE_SECRET_X: 'plain' }).secret('x')).toBe('from base64');
    expect(createSecretProvider({ SLUICE_SECRET_EMPTY: '' }).secret('empty')).toBe('');
  });

  it('names both variables when a secret is missing', () => {
    const error = failure(() => createSecretProvider({ SECRET_OTHER: b64('x') }).secret('api_key'));
    expect(error.code).toBe('SLU_EXPR_FUNCTION_FAILED');
    expect(error.params).toEqual({
      name: 'secret',
      reason: 'secret "api_key" is not set (set SECRET_API_KEY base64-encoded or SLUICE_SECRET_API_KEY)',
    });
  });

  // '/w==' is valid base64 of the byte 0xFF, which is not UTF-8 text; '-_-_' is the URL-safe alphabet.
  it.each(['not base64!', 'abcde', 'YWJj=x', 'YW=I', '-_-_', '/w=='])(
    'rejects the invalid base64 %j',
    (value) => {
      const error = failure(() => createSecretProvider({ SECRET_BAD: value }).secret('bad'));
      expect(error.code).toBe('SLU_EXPR_FUNCTION_FAILED');
      expect(error.message).toMatch(/^function secret\(\) failed: SECRET_BAD is not valid base64-encoded UTF-8 text/);
      expect(error.message).not.toContain(value);
    },
  );

  it('rejects a name that is not a string', () => {
    expect(failure(() => createSecretProvider({}).secret('')).params.reason).toMatch(/name of a secret/);
  });
});

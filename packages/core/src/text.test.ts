import { describe, expect, it } from 'vitest';
import { findInvalidCharacter } from './text.js';

describe('findInvalidCharacter', () => {
  it('finds the first NUL or lone surrogate, with its index', () => {
    expect(findInvalidCharacter('abc\u0000d')).toEqual({ index: 3, description: 'a NUL character (U+0000)' });
    expect(findInvalidCharacter('x\uD800')).toEqual({ index: 1, description: 'a lone surrogate (U+D800)' });
    expect(findInvalidCharacter('\uDFFFx')).toEqual({ index: 0, description: 'a lone surrogate (U+DFFF)' });
    // A high surrogate followed by another high one is lone; so is a low one after a complete pair.
    expect(findInvalidCharacter('\uDBFF\uDBFF\uDC00')?.index).toBe(0);
    expect(findInvalidCharacter('\uD83D\uDE00\uDC00')?.index).toBe(2);
    expect(findInvalidCharacter('ok\u0000\uD800')?.index).toBe(2);
  });

  it('accepts every other string, pairs and control characters included', () => {
    for (const text of ['', 'plain', '😀 emoji', '\uD83D\uDE00', '\u0001\u001F\u007F', '\uFFFE\uFFFF', 'é\u202E', '\\0', '%00']) {
      expect(findInvalidCharacter(text), JSON.stringify(text)).toBeUndefined();
    }
  });
});

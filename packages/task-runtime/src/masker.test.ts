import { describe, expect, it } from 'vitest';
import { MASK, Masker } from './masker.js';

describe('Masker', () => {
  it('masks every occurrence, also inside a longer line', () => {
    const masker = new Masker();
    masker.add('hunter2');
    expect(masker.mask('password=hunter2; again hunter2!')).toBe(`password=${MASK}; again ${MASK}!`);
  });

  it('masks the longer of two secrets where one contains the other', () => {
    const masker = new Masker();
    masker.add('abc');
    masker.add('xxabcxx');
    expect(masker.mask('[xxabcxx] [abc]')).toBe(`[${MASK}] [${MASK}]`);
    const reversed = new Masker();
    reversed.add('xxabcxx');
    reversed.add('abc');
    expect(reversed.mask('[xxabcxx] [abc]')).toBe(`[${MASK}] [${MASK}]`);
  });

  it('ignores values shorter than 3 characters and escapes regex characters', () => {
    const masker = new Masker();
    masker.add('ab');
    masker.add('');
    expect(masker.size).toBe(0);
    masker.add('a.*b$(');
    expect(masker.mask('ab a.*b$( axxb')).toBe(`ab ${MASK} axxb`);
  });

  it('remembers each line of a multi-line secret', () => {
    const masker = new Masker();
    masker.add('-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----');
    expect(masker.mask('MIIEvQIBADANBg')).toBe(MASK);
  });

  it('masks deep values without touching the input', () => {
    const masker = new Masker();
    masker.add('s3cret');
    const shared = { token: 's3cret' };
    const input = { a: ['x s3cret', 1, null, true], b: { c: 's3cret' }, d: shared, e: shared, when: new Date(0) };
    const masked = masker.maskDeep(input);
    expect(masked).toEqual({ a: [`x ${MASK}`, 1, null, true], b: { c: MASK }, d: { token: MASK }, e: { token: MASK }, when: new Date(0) });
    expect(input.b.c).toBe('s3cret');
    const cyclic: Record<string, unknown> = { v: 's3cret' };
    cyclic.self = cyclic;
    expect(masker.maskDeep(cyclic)).toEqual({ v: MASK, self: '[Circular]' });
    const proto = masker.maskDeep(JSON.parse('{"__proto__": {"x": "s3cret"}}') as Record<string, unknown>);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(proto, '__proto__')?.value).toEqual({ x: MASK });
  });
});

import { describe, expect, it } from 'vitest';
import { LineSplitter } from './line-splitter.js';

function split(chunks: readonly Buffer[]): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.write(chunk);
  splitter.end();
  return lines;
}

describe('LineSplitter', () => {
  it('splits on \\n and \\r\\n, and delivers the last line without a newline', () => {
    expect(split([Buffer.from('a\nb\r\nc')])).toEqual(['a', 'b', 'c']);
    expect(split([Buffer.from('a\n')])).toEqual(['a']);
    expect(split([Buffer.from('\n\n')])).toEqual(['', '']);
    expect(split([])).toEqual([]);
  });

  it('joins partial lines and a \\r\\n cut between chunks', () => {
    expect(split([Buffer.from('hel'), Buffer.from('lo\r'), Buffer.from('\nwor'), Buffer.from('ld')])).toEqual(['hello', 'world']);
  });

  it('decodes a multibyte character cut between chunks', () => {
    const bytes = Buffer.from('✓ 日本語\n');
    const chunks = [...bytes].map((byte) => Buffer.from([byte]));
    expect(split(chunks)).toEqual(['✓ 日本語']);
  });

  it('keeps a very long line in one piece', () => {
    const chunks = Array.from({ length: 1000 }, () => Buffer.from('x'.repeat(1000)));
    const lines = split([...chunks, Buffer.from('\nend')]);
    expect(lines.map((line) => line.length)).toEqual([1_000_000, 3]);
  });
});

import { describe, expect, it } from 'vitest';
import { FrameDemuxer } from './frame-demuxer.js';

const frame = (type: number, text: string): Buffer => {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
};

function demux(chunks: readonly Buffer[]): { out: string; err: string } {
  let out = '';
  let err = '';
  const demuxer = new FrameDemuxer(
    (bytes) => (out += bytes.toString()),
    (bytes) => (err += bytes.toString()),
  );
  for (const chunk of chunks) demuxer.write(chunk);
  return { out, err };
}

describe('FrameDemuxer', () => {
  const stream = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, ''), frame(1, 'out 2')]);

  it('separates stdout and stderr frames', () => {
    expect(demux([stream])).toEqual({ out: 'out 1\nout 2', err: 'err 1\n' });
  });

  it('handles headers and payloads cut anywhere', () => {
    for (let size = 1; size <= 9; size++) {
      const chunks: Buffer[] = [];
      for (let offset = 0; offset < stream.length; offset += size) chunks.push(stream.subarray(offset, offset + size));
      expect(demux(chunks), `chunks of ${size}`).toEqual({ out: 'out 1\nout 2', err: 'err 1\n' });
    }
  });
});

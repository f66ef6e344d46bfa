/**
 * Splits the engine's multiplexed attach/logs stream (non-TTY containers) into stdout and stderr bytes. Each frame
 * is an 8-byte header — stream type (1 stdout, 2 stderr), three zero bytes, payload length (uint32 big-endian) —
 * then the payload. Frames and headers may be cut anywhere between chunks.
 */
export class FrameDemuxer {
  private header = Buffer.alloc(8);
  private headerFilled = 0;
  private remaining = 0;
  private streamType = 0;

  constructor(
    private readonly onStdout: (bytes: Buffer) => void,
    private readonly onStderr: (bytes: Buffer) => void,
  ) {}

  write(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(8 - this.headerFilled, chunk.length - offset);
        chunk.copy(this.header, this.headerFilled, offset, offset + take);
        this.headerFilled += take;
        offset += take;
        if (this.headerFilled < 8) return;
        this.headerFilled = 0;
        this.streamType = this.header.readUInt8(0);
        this.remaining = this.header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - offset);
      const payload = chunk.subarray(offset, offset + take);
      offset += take;
      this.remaining -= take;
      if (this.streamType === 2) this.onStderr(payload);
      else this.onStdout(payload);
    }
  }
}

import { StringDecoder } from 'node:string_decoder';

/**
 * Bytes in, complete lines out, as the Runner contract wants them: UTF-8 decoded across chunk boundaries (a
 * multibyte character may be split between chunks), `\n` or `\r\n` endings removed, lines of any length, and the
 * last line delivered by `end()` even without a newline.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending: string[] = [];

  constructor(private readonly onLine: (line: string) => void) {}

  write(chunk: Buffer): void {
    this.push(this.decoder.write(chunk));
  }

  end(): void {
    this.push(this.decoder.end());
    if (this.pending.length > 0) this.emit(this.pending.join(''));
    this.pending = [];
  }

  private push(text: string): void {
    let start = 0;
    for (let newline = text.indexOf('\n'); newline >= 0; newline = text.indexOf('\n', start)) {
      const head = text.slice(start, newline);
      const line = this.pending.length > 0 ? this.pending.join('') + head : head;
      this.pending = [];
      this.emit(line);
      start = newline + 1;
    }
    // Parts of a long line are kept in a list and joined once, never re-concatenated chunk after chunk.
    if (start < text.length) this.pending.push(text.slice(start));
  }

  private emit(line: string): void {
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}

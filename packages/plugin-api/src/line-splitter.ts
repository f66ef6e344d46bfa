import { StringDecoder } from 'node:string_decoder';

/**
 * For runner implementations, which all owe the Runner contract the same line semantics. Turns a byte stream into
 * lines as the bytes arrive: UTF-8 characters split across chunks are decoded whole,
 * `\n` and `\r\n` endings are removed, and the last line is delivered by `end()` even without a newline.
 * Only the current, unterminated line is held in memory, so output of any size streams through.
 */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  readonly #onLine: (line: string) => void;
  // Pieces of the current line; joined once its newline arrives, so a long line costs O(length), not O(length²).
  #pending: string[] = [];

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  write(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    let start = 0;
    let newline = text.indexOf('\n', start);
    while (newline !== -1) {
      this.#pending.push(text.slice(start, newline));
      this.#emit();
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length) this.#pending.push(text.slice(start));
  }

  /** Flush the decoder and deliver the last line if it had no newline. */
  end(): void {
    const rest = this.#decoder.end();
    if (rest) this.write(rest);
    if (this.#pending.length > 0) this.#emit();
  }

  #emit(): void {
    const line = this.#pending.length === 1 ? (this.#pending[0] as string) : this.#pending.join('');
    this.#pending = [];
    this.#onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }
}

import type { Readable } from 'node:stream';

/**
 * What can be stored: a Node stream, any async iterable of bytes (an async generator, a web stream's reader
 * wrapped as one), or a whole value already in memory. Streams and iterables are consumed with back-pressure and
 * never buffered whole.
 */
export type StorageContent = Readable | AsyncIterable<Uint8Array> | Uint8Array | string;

/** One stored file. */
export interface StorageObject {
  /** Canonical `kestra:///` URI (segments percent-encoded; see `parseStorageUri`). */
  readonly uri: string;
  /** Size in bytes. */
  readonly size: number;
  readonly lastModified: Date;
}

/**
 * The internal storage: files addressed by `kestra:///` URIs (DESIGN.md §5). The API owns one; workers reach it
 * through the API, tasks through their `TaskStorage`.
 *
 * Semantics every backend keeps:
 * - `put` is atomic: a reader sees the previous file, nothing, or the complete new file, never a partial one.
 *   Concurrent `put`s of one URI end with one of the contents complete (last writer wins).
 * - Content is streamed both ways; a backend never holds a whole file in memory.
 * - URIs are validated and confined (`SLU_STORAGE_INVALID_URI`): no `..`, no escape from the backend's root.
 * - Files only: "directories" exist implicitly as URI prefixes; `list` is recursive.
 *
 * What it leaves out, for now: remote backends (S3, GCS, Azure; the shape leaves room for them: no file
 * descriptors or paths leak out), the HTTP client workers will use, metadata and content types, range reads,
 * recursive delete (purging an execution), quotas and multi-tenancy.
 */
export interface Storage {
  /**
   * Store `content` at `uri`, replacing any existing file.
   *
   * @throws SluiceError `SLU_STORAGE_INVALID_URI` for a bad URI, or when a prefix of it is already a file (or the
   *   URI is a "directory"); the error of `content` when the source stream fails (nothing is stored then).
   */
  put(uri: string, content: StorageContent): Promise<StorageObject>;
  /**
   * A stream of the file's bytes. The file is opened before this resolves, so a missing file rejects here rather
   * than in the stream; the caller must consume or destroy the stream.
   *
   * @throws SluiceError `SLU_STORAGE_NOT_FOUND` `{uri}`; `SLU_STORAGE_INVALID_URI`.
   */
  get(uri: string): Promise<Readable>;
  /** The file's size and date, or undefined when nothing is stored there (a "directory" is not a file). */
  stat(uri: string): Promise<StorageObject | undefined>;
  /**
   * Every file at or under `prefixUri` (segment-wise: `kestra:///a/b` covers `a/b/c` but not `a/bc`), recursively,
   * sorted by URI. A missing prefix lists nothing. `kestra:///` lists everything.
   */
  list(prefixUri: string): Promise<StorageObject[]>;
  /** Delete one file; resolves with whether something was deleted. A prefix ("directory") is never deleted. */
  delete(uri: string): Promise<boolean>;
}

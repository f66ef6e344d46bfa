import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { SluiceError, sluiceErrorFromBody } from '@sluice/core';
import type { Storage, StorageContent, StorageObject } from './storage.js';
import { parseStoragePrefix, parseStorageUri } from './uri.js';

export interface HttpStorageOptions {
  /** The API's base URL (`SLUICE_API_URL`), e.g. `http://api:8080`. */
  readonly apiUrl: string;
  /** The worker token (`SLUICE_WORKER_TOKEN`). */
  readonly workerToken: string;
  /** The fetch to use (tests). Default the global one. */
  readonly fetch?: typeof fetch;
}

interface ObjectJson {
  uri: string;
  size: number;
  lastModified: string;
}

function toObject(json: ObjectJson): StorageObject {
  return { uri: json.uri, size: json.size, lastModified: new Date(json.lastModified) };
}

/**
 * The {@link Storage} contract over the API's internal storage endpoints (`/api/v1/internal/storage`), with the
 * worker token: what a remote worker's TaskStorage uses, so it needs no disk shared with the API (DESIGN.md §1).
 *
 * Content is streamed both ways: `put` sends the source as a chunked request body (`duplex: 'half'`) and `get`
 * returns the response body as a Node stream, so neither side holds a whole file. URIs are validated here first
 * (`SLU_STORAGE_INVALID_URI` without a round trip) and again by the API. The API's errors come back as the same
 * `SluiceError` (code and parameters); a network failure or an unexpected answer is `SLU_STORAGE_REMOTE_FAILED`.
 */
export class HttpStorage implements Storage {
  readonly #base: string;
  readonly #authorization: string;
  readonly #fetch: typeof fetch;

  constructor(options: HttpStorageOptions) {
    this.#base = `${options.apiUrl.replace(/\/+$/, '')}/api/v1/internal/storage`;
    this.#authorization = `Bearer ${options.workerToken}`;
    this.#fetch = options.fetch ?? fetch;
  }

  async put(uri: string, content: StorageContent): Promise<StorageObject> {
    parseStorageUri(uri);
    let body: NonNullable<RequestInit['body']>;
    const source: { failed: boolean; error?: unknown } = { failed: false };
    if (typeof content === 'string' || content instanceof Uint8Array) body = content;
    else body = Readable.toWeb(Readable.from(tracked(content, source))) as unknown as NonNullable<RequestInit['body']>;
    try {
      const response = await this.#request('PUT', `?uri=${encodeURIComponent(uri)}`, {
        body,
        duplex: 'half',
        headers: { 'content-type': 'application/octet-stream' },
      });
      return toObject((await response.json()) as ObjectJson);
    } catch (error) {
      // The contract: when the source fails, put rejects with the source's error (the API stores nothing then).
      if (source.failed) throw source.error;
      throw error;
    }
  }

  async get(uri: string): Promise<Readable> {
    parseStorageUri(uri);
    const response = await this.#request('GET', `?uri=${encodeURIComponent(uri)}`);
    if (!response.body) return Readable.from([]);
    return Readable.fromWeb(response.body as unknown as NodeReadableStream<Uint8Array>);
  }

  async stat(uri: string): Promise<StorageObject | undefined> {
    parseStorageUri(uri);
    try {
      const response = await this.#request('GET', `/metas?uri=${encodeURIComponent(uri)}`);
      return toObject((await response.json()) as ObjectJson);
    } catch (error) {
      if (error instanceof SluiceError && error.code === 'SLU_STORAGE_NOT_FOUND') return undefined;
      throw error;
    }
  }

  async list(prefixUri: string): Promise<StorageObject[]> {
    parseStoragePrefix(prefixUri);
    const response = await this.#request('GET', `/list?prefix=${encodeURIComponent(prefixUri)}`);
    return ((await response.json()) as { files: ObjectJson[] }).files.map(toObject);
  }

  async delete(uri: string): Promise<boolean> {
    parseStorageUri(uri);
    const response = await this.#request('DELETE', `?uri=${encodeURIComponent(uri)}`);
    return ((await response.json()) as { deleted: boolean }).deleted;
  }

  /** A 2xx response, or the API's error as a SluiceError. */
  async #request(method: string, suffix: string, init: RequestInit = {}): Promise<Response> {
    const url = `${this.#base}${suffix}`;
    const headers = new Headers(init.headers);
    headers.set('authorization', this.#authorization);
    let response: Response;
    try {
      response = await this.#fetch(url, { ...init, method, headers });
    } catch (error) {
      if (error instanceof SluiceError) throw error;
      // A failing source stream surfaces here too: keep it as the cause.
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw new SluiceError('SLU_STORAGE_REMOTE_FAILED', { url: this.#base, reason: describe(cause) }, {}, { cause });
    }
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    const refused = sluiceErrorFromBody(text);
    if (refused) throw refused;
    throw new SluiceError('SLU_STORAGE_REMOTE_FAILED', { url: this.#base, reason: `HTTP ${response.status} ${text.slice(0, 200)}`.trim() });
  }
}

/** The source's chunks, remembering whether (and why) it failed. */
async function* tracked(content: AsyncIterable<Uint8Array>, source: { failed: boolean; error?: unknown }): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of content) yield chunk;
  } catch (error) {
    source.failed = true;
    source.error = error;
    throw error;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.message}${'code' in error && typeof error.code === 'string' ? ` (${error.code})` : ''}`;
  return String(error);
}

export type { Storage, StorageContent, StorageObject } from './storage.js';
export { LocalFileStorage } from './local-file-storage.js';
export type { LocalFileStorageOptions } from './local-file-storage.js';
export { HttpStorage, type HttpStorageOptions } from './http-storage.js';
export {
  executionPrefixUri,
  formatStorageUri,
  inputFileUri,
  normalizeRelativePath,
  parseStoragePrefix,
  parseStorageUri,
  RESERVED_NAME_PREFIX,
  STORAGE_SCHEME,
  taskRunFileUri,
} from './uri.js';
export type { InputScope, TaskRunScope } from './uri.js';

export type ScriptLanguage = 'python' | 'shell' | 'node';

/** Default container images per language (Kestra's defaults); a worker setting may override them. */
export const DEFAULT_IMAGES: Readonly<Record<ScriptLanguage, string>> = {
  python: 'python:3.13-slim',
  shell: 'ubuntu',
  node: 'node',
};

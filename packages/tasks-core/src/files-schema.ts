/** `inputFiles` / LocalFiles `inputs`: file name → inline text or a `kestra:///` URI; or one JSON string (Kestra). */
export const inputFilesSchema = {
  type: ['object', 'string'],
  additionalProperties: { type: 'string' },
  description: 'Files to create in the working directory: name → inline content or a kestra:/// URI.',
} as const;

/** `outputFiles` / LocalFiles `outputs`: globs matched in the working directory and uploaded. */
export const outputFilesSchema = {
  type: 'array',
  items: { type: 'string', minLength: 1 },
  description: 'Glob patterns of files to upload from the working directory.',
} as const;

/**
 * Compiles the flow and plugin JSON Schemas with ajv, optionally through a cache of compiled code (ajv's standalone
 * output) that the caller keeps: the CLI keeps it on disk, so that `sluice flow validate` of one file does not pay for
 * ajv's compiler at every start (issue #14). Without a cache, or on a miss, ajv compiles as usual; ajv itself is loaded
 * only then, so a fully cached run never loads its compiler.
 *
 * Cached code is a CommonJS module exporting `(formats) => validate`: the custom formats (`duration`) are handed in,
 * and ajv's runtime helpers are required by absolute path, so the module works wherever the cache keeps it.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as AjvModule from 'ajv';
import type { Ajv as AjvClass, ValidateFunction } from 'ajv';
import { isValidDuration } from '../schedule/index.js';
import type { JsonSchema } from './plugin-schemas.js';

/** Where compiled schemas are kept between runs; the keys say everything that shapes the code. */
export interface CompiledSchemaCache {
  /** What {@link store} stored for `key` earlier (the module's exports), or undefined. */
  load(key: string): unknown;
  /** Keep `code`, a CommonJS module, for `key`. Failing to keep it is not an error. */
  store(key: string, code: string): void;
}

/** Compile a schema into a validator; throws ajv's error for a schema it refuses. */
export type SchemaCompiler = (schema: JsonSchema) => ValidateFunction;

const require = createRequire(import.meta.url);
const AJV_DIR = dirname(require.resolve('ajv/package.json'));
const AJV_VERSION = (require('ajv/package.json') as { version: string }).version;
// ajv's code optimiser halves compile time for no measurable loss in validation speed on flow-sized documents.
const OPTIONS = { allErrors: true, verbose: true, strict: true, allowUnionTypes: true, strictRequired: false } as const;
const FORMATS = { duration: { type: 'string' as const, validate: isValidDuration } };

export function createSchemaCompiler(cache?: CompiledSchemaCache): SchemaCompiler {
  let ajv: AjvClass | undefined;
  const compiler = (): AjvClass => {
    if (!ajv) {
      const { Ajv, _ } = require('ajv') as typeof AjvModule;
      // `formats` names the factory's parameter in the standalone code (see the module comment).
      ajv = new Ajv({ ...OPTIONS, code: { optimize: false, ...(cache ? { source: true, formats: _`formats` } : {}) } });
      ajv.addFormat('duration', FORMATS.duration);
    }
    return ajv;
  };
  return (schema) => {
    if (!cache) return compiler().compile(schema);
    const key = JSON.stringify({ ajv: AJV_VERSION, at: AJV_DIR, options: OPTIONS, formats: Object.keys(FORMATS), schema });
    const factory = cache.load(key);
    if (typeof factory === 'function') {
      const validate = (factory as (formats: typeof FORMATS) => unknown)(FORMATS);
      if (typeof validate === 'function') return validate as ValidateFunction;
    }
    const validate = compiler().compile(schema);
    try {
      cache.store(key, standaloneModule(compiler(), validate));
    } catch {
      // code generation for the cache failed: the compiled validator still serves this run
    }
    return validate;
  };
}

function standaloneModule(ajv: AjvClass, validate: ValidateFunction): string {
  const { default: standaloneCode } = require('ajv/dist/standalone/index.js') as { default: (ajv: AjvClass, validate: ValidateFunction) => string };
  const code = standaloneCode(ajv, validate).replace(/require\("ajv\/([^"]+)"\)/g, (_match: string, path: string) => `require(${JSON.stringify(`${AJV_DIR}/${path}`)})`);
  return `"use strict";\nmodule.exports = function (formats) {\n  const module = { exports: {} };\n${code}\n  return module.exports;\n};\n`;
}

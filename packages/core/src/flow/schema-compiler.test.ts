import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { JsonSchema } from './plugin-schemas.js';
import { createSchemaCompiler } from './schema-compiler.js';
import type { CompiledSchemaCache } from './schema-compiler.js';
import { createFlowValidator } from './validate.js';

/** A cache in memory that evaluates stored code as a CommonJS module, as a file cache's require would. */
function memoryCache(): CompiledSchemaCache & { codes: Map<string, string>; loads: number; hits: number } {
  const codes = new Map<string, string>();
  const require = createRequire(import.meta.url);
  const cache = {
    codes,
    loads: 0,
    hits: 0,
    load(key: string): unknown {
      cache.loads++;
      const code = codes.get(key);
      if (code === undefined) return undefined;
      cache.hits++;
      const module = { exports: {} as unknown };
      new Function('module', 'exports', 'require', code)(module, module.exports, require);
      return module.exports;
    },
    store(key: string, code: string): void {
      codes.set(key, code);
    },
  };
  return cache;
}

const schema: JsonSchema = {
  type: 'object',
  required: ['id'],
  properties: {
    id: { type: 'string', pattern: '^[a-z]+$', maxLength: 5 },
    timeout: { type: 'string', format: 'duration' },
    mode: { enum: ['A', 'B'] },
    tasks: { type: 'array', items: { $ref: '#' } },
  },
  additionalProperties: false,
};
const inputs: unknown[] = [
  { id: 'abc' },
  { id: 'ABC', timeout: 'soon', mode: 'C', extra: 1 },
  { id: 'abcdefgh', timeout: 'PT5M', tasks: [{ id: 'x', timeout: 'later' }, { nope: true }] },
  'not an object',
  { timeout: 12 },
];

describe('schema compiler', () => {
  it('a validator loaded from the cache says exactly what a freshly compiled one says', () => {
    const fresh = createSchemaCompiler()(schema);
    const cache = memoryCache();
    const first = createSchemaCompiler(cache)(schema); // compiles, stores
    expect(cache.codes.size).toBe(1);
    expect(cache.hits).toBe(0);
    const second = createSchemaCompiler(cache)(schema); // loads the stored code
    expect(cache.hits).toBe(1);
    expect(second).not.toBe(first);
    for (const input of inputs) {
      const expected = [fresh(input), fresh.errors ?? null];
      expect([first(input), first.errors ?? null]).toEqual(expected);
      expect([second(input), second.errors ?? null]).toEqual(expected);
    }
    // The custom format really runs in the cached code (a bad duration fails, a good one passes).
    expect(second({ id: 'a', timeout: 'soon' })).toBe(false);
    expect(second.errors?.[0]).toMatchObject({ keyword: 'format', params: { format: 'duration' } });
    expect(second({ id: 'a', timeout: 'PT30S' })).toBe(true);
  });

  it('keys by the schema: a changed schema misses, and broken stored code is compiled again', () => {
    const cache = memoryCache();
    createSchemaCompiler(cache)(schema);
    createSchemaCompiler(cache)({ ...schema, required: ['id', 'mode'] });
    expect(cache.codes.size).toBe(2);
    const [key] = [...cache.codes.keys()];
    cache.codes.set(key!, 'module.exports = 42;');
    const validate = createSchemaCompiler(cache)(schema);
    expect(validate({ id: 'abc' })).toBe(true);
    expect(validate({ id: 'ABC' })).toBe(false);
  });

  it('refuses an invalid schema as ajv does, cache or not (and stores nothing)', () => {
    const bad = { type: 'object', properties: { a: { type: 'strng' } } } as unknown as JsonSchema;
    expect(() => createSchemaCompiler()(bad)).toThrow(/schema is invalid: data\/properties\/a\/type/);
    const cache = memoryCache();
    expect(() => createSchemaCompiler(cache)(bad)).toThrow(/schema is invalid: data\/properties\/a\/type/);
    expect(cache.codes.size).toBe(0);
  });

  it('the flow validator gives the same problems through a warm cache', () => {
    const plugins = { tasks: { resolve: () => undefined, list: () => [] }, runners: { resolve: () => undefined, list: () => [] }, triggers: { resolve: () => undefined, list: () => [] } };
    const source = 'id: Bad Id\nnamespace: dev\ntasks: []\nfoo: 1\n';
    const plain = createFlowValidator(plugins as never).validateSource(source);
    const cache = memoryCache();
    createFlowValidator(plugins as never, { compiledSchemas: cache }).validateSource(source);
    const hitsBefore = cache.hits;
    const warm = createFlowValidator(plugins as never, { compiledSchemas: cache }).validateSource(source);
    expect(cache.hits).toBeGreaterThan(hitsBefore);
    expect(warm).toEqual(plain);
    expect(plain[0]?.problems.length).toBeGreaterThan(0);
  });
});

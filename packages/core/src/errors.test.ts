import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errorTable, formatErrorMessage, renderErrorsMarkdown, SluiceError, sluiceErrorFromBody } from './errors.js';

describe('error table', () => {
  it('docs/errors.md is generated from the table (run `npm run docs:errors` after changing errors.ts)', () => {
    const docPath = fileURLToPath(new URL('../../../docs/errors.md', import.meta.url));
    expect(readFileSync(docPath, 'utf8')).toBe(renderErrorsMarkdown());
  });

  it('every code follows SLU_<AREA>_<WHAT> and has a 4xx/5xx status', () => {
    for (const [code, spec] of Object.entries(errorTable)) {
      expect(code).toMatch(/^SLU_(FLOW|EXPR|PLUGIN|CLI|STORAGE|RUNNER|TASK|API|DB|QUEUE|INPUT|KV)_[A-Z_]+$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
      expect(spec.description.length).toBeGreaterThan(10);
    }
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(formatErrorMessage('SLU_EXPR_UNDEFINED_VARIABLE', { name: 'inputs.nope' })).toBe('undefined variable: inputs.nope');
    expect(formatErrorMessage('SLU_EXPR_UNDEFINED_VARIABLE')).toBe('undefined variable: {name}');
  });

  it('SluiceError carries code, status and a JSON body', () => {
    const error = new SluiceError('SLU_FLOW_UNKNOWN_TASK_TYPE', { type: 'x.Y', suggestion: '' }, { line: 3 });
    expect(error).toBeInstanceOf(Error);
    expect(error.status).toBe(400);
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: 'SLU_FLOW_UNKNOWN_TASK_TYPE',
      message: 'unknown task type "x.Y"',
      details: { line: 3 },
    });
  });
});

describe('sluiceErrorFromBody', () => {
  it('rebuilds the error an API body stands for, its parameters from details.params, the rest as details', () => {
    const sent = new SluiceError('SLU_API_EXECUTION_NOT_FOUND', { id: 'e1' }, { params: { id: 'e1' }, in: 'path' });
    const back = sluiceErrorFromBody(JSON.stringify(sent.toJSON()));
    expect(back).toBeInstanceOf(SluiceError);
    expect([back?.code, back?.message, back?.params, back?.details]).toEqual(['SLU_API_EXECUTION_NOT_FOUND', sent.message, { id: 'e1' }, { in: 'path' }]);
  });
  it("keeps the API's message when the parameters its message needs were not sent", () => {
    const back = sluiceErrorFromBody(JSON.stringify({ code: 'SLU_API_EXECUTION_NOT_FOUND', message: 'no such execution e2', details: {} }));
    expect(back?.message).toBe('no such execution e2');
  });
  it('is undefined for a body that is not JSON, or names no known code', () => {
    expect(sluiceErrorFromBody('<html>bad gateway</html>')).toBeUndefined();
    expect(sluiceErrorFromBody(JSON.stringify({ code: 'SLU_NOPE', message: 'x' }))).toBeUndefined();
    expect(sluiceErrorFromBody('null')).toBeUndefined();
  });
});

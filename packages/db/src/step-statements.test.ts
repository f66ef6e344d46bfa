import { describe, expect, it } from 'vitest';
import { inlineSql, prepareStatements, preparedSql, STEP_STATEMENT_NAMES, STEP_STATEMENTS } from './step-statements.js';

describe('step statements', () => {
  it('writes a statement inline with its literals in place of $n, reading the template once', () => {
    const sql = inlineSql(STEP_STATEMENTS.claim, [`'text with $2 and $1'`, '7']);
    expect(sql).toBe(`SELECT sluice_claim_execution('text with $2 and $1', 7) AS version`);
    // $10 is the tenth argument, not the first followed by a 0.
    const run = inlineSql(STEP_STATEMENTS.saveTaskRun, Array.from({ length: 16 }, (_, i) => `a${i + 1}`));
    expect(run).toBe('SELECT sluice_save_task_run(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16)');
  });

  it('writes the EXECUTE of the prepared form with the same literals', () => {
    expect(preparedSql(STEP_STATEMENTS.read, [`'it''s'`])).toBe(`EXECUTE sluice_step_read('it''s')`);
  });

  it('refuses a call with the wrong number of arguments, either way', () => {
    expect(() => inlineSql(STEP_STATEMENTS.claim, ['1'])).toThrow('sluice_step_claim takes 2 arguments, got 1');
    expect(() => preparedSql(STEP_STATEMENTS.read, ['1', '2'])).toThrow('sluice_step_read takes 1 arguments, got 2');
  });

  it('declares one type per parameter, and no $ beyond its parameters', () => {
    for (const statement of Object.values(STEP_STATEMENTS)) {
      const used = [...statement.sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
      expect(new Set(used), statement.name).toEqual(new Set(statement.types.map((_, i) => i + 1)));
      expect(statement.sql.replace(/\$\d+/g, ''), statement.name).not.toContain('$');
    }
  });

  it('prepares only what the session does not hold yet', () => {
    const all = prepareStatements(new Set());
    expect(all?.split(';\n')).toHaveLength(STEP_STATEMENT_NAMES.length);
    expect(all).toContain('PREPARE sluice_step_claim(text, integer) AS SELECT sluice_claim_execution($1, $2) AS version');
    const some = prepareStatements(new Set(STEP_STATEMENT_NAMES.filter((name) => name !== 'sluice_step_read')));
    expect(some).toBe('PREPARE sluice_step_read(text) AS SELECT * FROM sluice_execution_with_runs($1)');
    expect(prepareStatements(new Set(STEP_STATEMENT_NAMES))).toBeUndefined();
  });
});

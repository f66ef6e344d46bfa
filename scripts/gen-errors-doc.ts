import { writeFileSync } from 'node:fs';
import { renderErrorsMarkdown } from '@sluice/core';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsMarkdown());
console.log('wrote docs/errors.md');

import type { PluginSet } from '@sluice/plugin-api';
import { processRunner } from './definition.js';

export { processRunner };

/** The PROCESS runner. */
export const processPlugins: PluginSet = { runners: [processRunner] };

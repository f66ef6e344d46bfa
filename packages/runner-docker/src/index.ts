import type { PluginSet } from '@sluice/plugin-api';
import { dockerRunner } from './definition.js';

export { dockerRunner };

/** The DOCKER runner. */
export const dockerPlugins: PluginSet = { runners: [dockerRunner] };

import type { PluginSet } from '@sluice/plugin-api';
import { cloneTask } from './clone.js';

export { cloneTask };

/** Git plugins: Clone. */
export const gitPlugins: PluginSet = { tasks: [cloneTask] };

import type { PluginSet } from '@sluice/plugin-api';
import { scriptTasks } from './script-tasks.js';

export { DEFAULT_IMAGES, scriptTasks } from './script-tasks.js';
export type { ScriptLanguage } from './script-tasks.js';

/** Script plugins: Commands and Script for python, shell and node. */
export const scriptPlugins: PluginSet = { tasks: scriptTasks };

// `npm run build`: compile the native process spawner (src/spawner.c) now rather than at a worker's first command.
// Without a C compiler the build goes on: PROCESS tasks then use the Node helper (`spawn: 'auto'`).
import { nativeSpawner } from '../dist/native-spawn.js';

const spawner = await nativeSpawner();
if ('error' in spawner) console.warn(`runner-process: ${spawner.error}; PROCESS tasks will use the Node helper`);

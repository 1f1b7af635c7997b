import { afterAll } from 'vitest';
import { removeLeftTempDirs } from '../helpers/temp-dir.js';

// Registered before the file's own hooks, so (hooks unwinding as a stack) it runs after its afterAll
// closed the databases in those folders.
afterAll(removeLeftTempDirs);

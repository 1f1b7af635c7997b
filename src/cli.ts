#!/usr/bin/env node
// First: V8 tuned for a small heap before anything else loads (see the module).
import './small-heap.js';
import { main } from './commands.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});

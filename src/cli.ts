#!/usr/bin/env node
import { main } from './commands.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});

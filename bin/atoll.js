#!/usr/bin/env node
// The `atoll` command: the CLI lives in dist/ (built by `npm run build`, and by npm ci).
// isolated-vm is only ever loaded in the host's forked worker processes, which are
// started with --no-node-snapshot, so this process needs no special flags.
import "../dist/bundler/cli.js";

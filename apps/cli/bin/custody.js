#!/usr/bin/env node
// The `custody` command. This file exists before the build, so `npm ci` can link it as a bin;
// it loads the compiled CLI (built by `npm ci` through the root `prepare` script).
import "../dist/src/main.js";

// node:assert under nodejs_compat: the `assert` package, a port of Node's assert.
// `require("assert")` is the assert function itself, as in Node.
"use strict";
module.exports = require("assert");

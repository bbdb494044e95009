// node:assert/strict under nodejs_compat: the strict mode of the `assert` package.
"use strict";
module.exports = require("assert").strict;

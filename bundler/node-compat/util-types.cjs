// node:util/types under nodejs_compat: the `types` of the `util` package.
"use strict";
module.exports = require("util").types;

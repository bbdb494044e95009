// node:path (and node:path/posix) under nodejs_compat: `path-browserify`, Node's
// POSIX path module. There is no working directory: path.resolve starts at "/".
"use strict";
module.exports = require("path-browserify");

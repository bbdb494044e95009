// node:util under nodejs_compat: the `util` package (format, inspect, promisify,
// callbackify, inherits, deprecate, types), plus TextEncoder and TextDecoder
// from the isolate's globals, as Node's module has them.
"use strict";
// The package's own exports object, not a copy: `inherits` requires "util"
// while `util` is still loading it, and must see the object that fills in.
const util = require("util");

if (util.TextEncoder === undefined) util.TextEncoder = globalThis.TextEncoder;
if (util.TextDecoder === undefined) util.TextDecoder = globalThis.TextDecoder;
module.exports = util;

// node:string_decoder under nodejs_compat: the `string_decoder` package, Node's own module.
"use strict";
module.exports = require("string_decoder");

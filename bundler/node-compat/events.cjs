// node:events under nodejs_compat: the `events` package (Node's EventEmitter for
// every engine). `require("events")` is the EventEmitter class itself, as in Node.
"use strict";
module.exports = require("events");

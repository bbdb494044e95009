// node:buffer under nodejs_compat: feross's `buffer` package, plus what Node's
// module adds around Buffer (atob, btoa, Blob, File, constants) from the isolate's globals.
"use strict";
const buffer = require("buffer");

module.exports = {
  Buffer: buffer.Buffer,
  SlowBuffer: buffer.SlowBuffer,
  INSPECT_MAX_BYTES: buffer.INSPECT_MAX_BYTES,
  kMaxLength: buffer.kMaxLength,
  kStringMaxLength: 2 ** 29 - 24,
  constants: { MAX_LENGTH: buffer.kMaxLength, MAX_STRING_LENGTH: 2 ** 29 - 24 },
  atob: globalThis.atob,
  btoa: globalThis.btoa,
  Blob: globalThis.Blob,
  File: globalThis.File,
};

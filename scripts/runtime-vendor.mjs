// How the in-isolate runtime bundles third-party packages (an esbuild plugin
// for scripts/build.mjs): imports the runtime answers itself, globals handed
// in as imports, fixes not yet released, and tr46's table packed.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { mappingTableModule } from "./tr46-table.mjs";

const runtimeDir = resolve("host", "runtime");

/**
 * Imports inside bundled packages that the runtime answers itself, as
 * [package whose files import it, import path, runtime module].
 */
const substitutes = [
  // whatwg-url builds its UTF-8 coders from the global TextEncoder/TextDecoder
  // when it loads, before the runtime has installed them.
  ["whatwg-url", "./encoding", "encoding.ts"],
  // tr46 is needed only for non-ASCII hosts; idna.ts loads it on first use.
  ["whatwg-url", "tr46", "idna.ts"],
  // The parser's fast path for URLs already in their parsed form (see the patch below).
  ["whatwg-url", "./atoll-url-fast-path", "url-fast-path.ts"],
];

/**
 * Edits to bundled files, by path under node_modules:
 * - `imports`: names taken from runtime modules, by module, for globals the
 *   file reads (user code may replace globals);
 * - `patches`: [find, replace, why], for fixes not in a release we can use.
 *   The build fails when `find` is gone: drop the patch then.
 */
const edits = {
  "whatwg-url/lib/url-state-machine.js": {
    patches: [
      [
        "const len = countSymbols(this.buffer);\n    for (let pointer = 0; pointer < len; ++pointer) {\n      const codePoint = this.buffer.codePointAt(pointer);",
        "for (const symbol of this.buffer) {\n      const codePoint = symbol.codePointAt(0);",
        "userinfo after an astral code point lost a character (jsdom/whatwg-url#333, after 15.1.0)",
      ],
      [
        "module.exports.basicURLParse = function (input, options) {\n  if (options === undefined) {\n    options = {};\n  }\n",
        "const { parseCommonURL } = require(\"./atoll-url-fast-path\");\nmodule.exports.basicURLParse = function (input, options) {\n  if (options === undefined) {\n    options = {};\n  }\n" +
          "  if (options.baseURL == null && options.url === undefined && options.stateOverride === undefined) {\n    const common = parseCommonURL(input);\n    if (common !== null) return common;\n  }\n",
        "absolute http(s) URLs already in parsed form skip the state machine (host/runtime/url-fast-path.ts)",
      ],
    ],
  },
  "whatwg-url/lib/URL-impl.js": {
    patches: [
      [
        "    this._query = URLSearchParams.createImpl(globalObject, [query], { doNotStripQMark: true });\n    this._query._url = this;\n  }\n",
        "    this._globalObject = globalObject;\n    this._queryImpl = null;\n  }\n\n" +
          "  get _query() {\n    if (this._queryImpl === null) {\n      this._queryImpl = URLSearchParams.createImpl(this._globalObject, [this._url.query !== null ? this._url.query : \"\"], { doNotStripQMark: true });\n      this._queryImpl._url = this;\n    }\n    return this._queryImpl;\n  }\n",
        "a URL's URLSearchParams is made when first asked for: building it took a fifth of a request's `new URL()`",
      ],
    ],
  },
  // urlpattern-polyfill 10.1 ships minified; these follow the URL Pattern Standard of 2026.
  "urlpattern-polyfill/dist/urlpattern.js": {
    imports: { "url.ts": ["URL"], "url-pattern-canonical.ts": ["canonicalizeHostname", "canonicalizePort"] },
    patches: [
      [
        "let i=e.substr(s,1);if(s===n+1&&Re.test(i)||s!==n+1&&Ee.test(i)){f+=e[s++];continue}",
        "let i=String.fromCodePoint(e.codePointAt(s));if(s===n+1&&Re.test(i)||s!==n+1&&Ee.test(i)){f+=i,s+=i.length;continue}",
        "group names are tokenized by code point, so astral letters belong in them",
      ],
      ['function B(e){return e&&e.ignoreCase?"ui":"u"}', 'function B(e){return e&&e.ignoreCase?"vi":"v"}', "patterns compile with the v flag ([[a-z]--a])"],
      [
        "let i=`[^${x(r.delimiter)}]+?`,o=s.value;",
        'let i=r.delimiter?`[^${x(r.delimiter)}]+?`:"[\\\\s\\\\S]+?",o=s.value;',
        "V8 11 (Node 20) never matches /[^]+?$/v: an empty delimiter's segment wildcard is written [\\s\\S]",
      ],
      [
        "function le(e,t,r){return z(t)===e&&(e=\"\"),r||e===\"\"?e:G(e)}",
        "function le(e,t,r){return z(t)===e&&(e=\"\"),r||e===\"\"?e:canonicalizePort(e,t)}",
        "canonicalize a port: the URL parser's port state (\"80x\" is 80)",
      ],
      [
        "function G(e){if(e===\"\"||/^[0-9]*$/.test(e)&&parseInt(e)<=65535)return e;throw new TypeError(`Invalid port '${e}'.`)}",
        "function G(e){return canonicalizePort(e)}",
        "canonicalize a port, for the pattern's fixed text",
      ],
      [
        "function j(e){if(e===\"\")return e;if(/[\\t\\n\\r #%/:<>?@[\\]^\\\\|]/g.test(e))throw new TypeError(`Invalid hostname '${e}'`);let t=new URL(\"https://example.com\");return t.hostname=e,t.hostname}",
        "function j(e){return canonicalizeHostname(e)}",
        "canonicalize a hostname: the URL parser's hostname state (\"bad#hostname\" is bad)",
      ],
    ],
  },
};

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** @type {import("esbuild").Plugin} */
export const vendorPlugin = {
  name: "runtime-vendor",
  setup(build) {
    for (const [pkg, path, module] of substitutes) {
      build.onResolve({ filter: new RegExp(`^${escapeRegExp(path)}$`) }, (args) =>
        args.importer.includes(`/node_modules/${pkg}/`) ? { path: resolve(runtimeDir, module) } : undefined,
      );
    }
    build.onLoad({ filter: /\/node_modules\/tr46\/lib\/mappingTable\.json$/ }, async (args) => ({
      contents: mappingTableModule(await readFile(args.path, "utf8")),
      loader: "js",
    }));
    for (const [file, { imports = {}, patches = [] }] of Object.entries(edits)) {
      build.onLoad({ filter: new RegExp(`/node_modules/${escapeRegExp(file)}$`) }, async (args) => {
        let source = await readFile(args.path, "utf8");
        for (const [find, replace, why] of patches) {
          if (!source.includes(find)) throw new Error(`the patch to ${file} no longer applies (${why}): remove it if the package has the fix`);
          source = source.replace(find, () => replace);
        }
        const prelude = Object.entries(imports).map(([module, names]) => `import { ${names.join(", ")} } from ${JSON.stringify(resolve(runtimeDir, module))};\n`);
        return { contents: prelude.join("") + source, loader: "js" };
      });
    }
  },
};

// A fast path of the URL parser (https://url.spec.whatwg.org/#concept-basic-url-parser)
// for absolute http(s) URLs already in the form the parser would give back:
// lower-case ASCII host names or dotted-quad IPv4, no credentials, a port
// other than the default, and path, query and fragment made of characters
// that need no percent-encoding, with no dot segments. Such a URL's record can
// be read off the string. whatwg-url's state machine spends ~0.5 µs per
// character (a request's `new URL(request.url)` took 15 µs); the build
// (scripts/runtime-vendor.mjs) calls this from its basicURLParse first, and
// anything this does not take goes through the state machine as before.

/** whatwg-url's URL record. */
export interface URLRecord {
  scheme: string;
  username: string;
  password: string;
  /** A domain, or an IPv4 address as a number. */
  host: string | number;
  port: number | null;
  path: string[];
  query: string | null;
  fragment: string | null;
}

/**
 * scheme, host, port, path, query, fragment. Characters allowed are those no
 * percent-encode set of the standard holds for that part (path: not " # < > ?
 * ^ ` { }, and not \ which special URLs read as /; query: not " # < > ';
 * fragment: not " < > `), all printable ASCII.
 */
const COMMON_URL =
  /^(https?):\/\/([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*)(?::([1-9][0-9]{0,4}))?(\/[!$-;=@-\[\]_a-z|~]*)?(?:\?([!$-&(-;=?-~]*))?(?:#([!#-;=?-_a-~]*))?$/;
/** A segment the parser would resolve: ".", "..", or either spelled with %2e. */
const DOT_SEGMENT = /\/(?:\.|%2e)/i;
/** A host that ends in a number is an IPv4 address to the parser ("1.2.3", "0x7f.1"). */
const ENDS_IN_NUMBER = /(?:^|\.)(?:[0-9]+|0x[0-9a-f]*)$/;
const DOTTED_QUAD = /^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;
/** Punycode labels are checked by the IDNA code: never on the fast path. */
const PUNYCODE_LABEL = /(?:^|\.)xn--/;

/** The URL record of `input`, or null when the full parser must decide. */
export function parseCommonURL(input: unknown): URLRecord | null {
  if (typeof input !== "string" || input.length > 2048) return null;
  const match = COMMON_URL.exec(input);
  if (match === null) return null;
  const [, scheme, hostname, portText, pathText, query, fragment] = match as unknown as [string, string, string, string | undefined, string | undefined, string | undefined, string | undefined];
  let host: string | number = hostname;
  if (ENDS_IN_NUMBER.test(hostname)) {
    const quad = DOTTED_QUAD.exec(hostname);
    if (quad === null) return null;
    host = ((Number(quad[1]) * 256 + Number(quad[2])) * 256 + Number(quad[3])) * 256 + Number(quad[4]);
  } else if (PUNYCODE_LABEL.test(hostname)) return null;
  let port: number | null = null;
  if (portText !== undefined) {
    port = Number(portText);
    if (port > 65535) return null;
    if (port === (scheme === "http" ? 80 : 443)) port = null;
  }
  let path: string[];
  if (pathText === undefined) path = [""];
  else {
    if (DOT_SEGMENT.test(pathText)) return null;
    path = pathText.slice(1).split("/");
  }
  return { scheme, username: "", password: "", host, port, path, query: query ?? null, fragment: fragment ?? null };
}

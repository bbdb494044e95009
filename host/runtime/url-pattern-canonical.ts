// The URL Pattern Standard's "canonicalize a hostname" and "canonicalize a
// port", which urlpattern-polyfill 10 implements as older drafts did (it
// throws for "80x" and "bad#hostname"); the build points its encode callbacks
// here. Both run the URL parser with a state override on a dummy URL record,
// as the standard says, through whatwg-url's parser.
import { basicURLParse, serializeHost } from "whatwg-url";

/** https://urlpattern.spec.whatwg.org/#canonicalize-a-hostname */
export function canonicalizeHostname(value: string): string {
  if (value === "") return value;
  // "Creating a dummy URL": the URL "https://dummy.invalid/".
  const url = basicURLParse("https://dummy.invalid/")!;
  if (basicURLParse(value, { url, stateOverride: "hostname" }) === null) throw new TypeError(`Invalid hostname '${value}'.`);
  return url.host === null ? "" : serializeHost(url.host);
}

/** https://urlpattern.spec.whatwg.org/#canonicalize-a-port */
export function canonicalizePort(value: string, protocol?: string): string {
  if (value === "") return value;
  const url = basicURLParse("https://dummy.invalid/")!;
  url.scheme = protocol ?? "";
  if (basicURLParse(value, { url, stateOverride: "port" }) === null) throw new TypeError(`Invalid port '${value}'.`);
  return url.port === null ? "" : String(url.port);
}

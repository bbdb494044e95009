// Route patterns (`routes` in atoll.toml): what a valid one looks like, and its
// normalised form (the one stored, listed and compared for clashes).
//
//   "example.test/api/*"   host example.test, any path under /api
//   "*.example.test/*"     any subdomain of example.test (not the apex), any path
//   "/static/*"            any host, any path under /static
//   "example.test/health"  exactly that host and path
//
// A `*` is allowed only as the last character (a path prefix) and as a leading
// `*.` of the host. Hosts are lower-cased and carry no port; paths are kept as
// written (case-sensitive) and carry no query. Matching requests is the front's job.

/** A validated route pattern. */
export interface RoutePattern {
  /** The normalised pattern (host lower-cased): the form stored, listed and compared for clashes. */
  pattern: string;
  /** Lower-case host without the `*.` prefix; null when the pattern matches any host. */
  host: string | null;
  /** True for `*.example.test`: matches subdomains of `host` at any depth, not `host` itself. */
  hostWildcard: boolean;
  /** The path, without the trailing `*` when `pathWildcard`. Always starts with `/`. */
  path: string;
  /** True when the pattern ends with `*`: `path` is a prefix. */
  pathWildcard: boolean;
}

export type RoutePatternParse = { route: RoutePattern; problem?: undefined } | { route?: undefined; problem: string };

const HOST_LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/;

/** Parses and normalises one pattern; `problem` says what is wrong with it (no path, no source). */
export function parseRoutePattern(input: string): RoutePatternParse {
  const raw = input.trim();
  if (raw === "") return { problem: "must not be empty" };
  if (/\s/.test(raw)) return { problem: "must not contain whitespace" };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    return { problem: `must not include a scheme: write ${JSON.stringify(raw.replace(/^[a-z][a-z0-9+.-]*:\/\//i, ""))}` };
  }
  const slash = raw.indexOf("/");
  if (slash === -1) return { problem: `must include a path: write ${JSON.stringify(`${raw}/*`)} for every path of that host` };
  const hostPart = raw.slice(0, slash).toLowerCase();
  const path = raw.slice(slash);

  const starAt = raw.indexOf("*", hostPart.startsWith("*.") ? 2 : 0);
  if (starAt !== -1 && starAt !== raw.length - 1) {
    return { problem: "may contain `*` only as its last character (and as a leading `*.` of the host)" };
  }
  if (/[?#]/.test(path)) return { problem: "must not contain a query (`?`) or a fragment (`#`): routes match the path only" };

  let host: string | null = null;
  let hostWildcard = false;
  if (hostPart !== "") {
    let name = hostPart;
    if (name.startsWith("*.")) {
      hostWildcard = true;
      name = name.slice(2);
    }
    if (/:\d*$/.test(name)) return { problem: "must not include a port: routes match the host name whatever the port" };
    if (name.length > 253 || !name.split(".").every((label) => HOST_LABEL.test(label))) {
      return { problem: `has an invalid host ${JSON.stringify(hostPart)}: use a name such as "example.test" or "*.example.test"` };
    }
    host = name;
  }

  const pathWildcard = path.endsWith("*");
  const route: RoutePattern = {
    pattern: `${hostPart}${path}`,
    host,
    hostWildcard,
    path: pathWildcard ? path.slice(0, -1) : path,
    pathWildcard,
  };
  return { route };
}

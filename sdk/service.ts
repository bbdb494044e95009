// Service bindings: `[[services]] binding = "AUTH", service = "auth"` in atoll.toml.

/**
 * `env.AUTH`: calls the script the binding names, through the host and
 * never the network, at its active version. The URL's host does not choose
 * the script (the binding does); its path and query reach the script as
 * usual. Counts as a subrequest and as one fetch hop toward the loop limit.
 */
export interface Fetcher {
  fetch(input: Request | string | URL, init?: RequestInit): Promise<Response>;
  /** Not supported on Atoll: throws. */
  connect(address: string, options?: unknown): never;
}

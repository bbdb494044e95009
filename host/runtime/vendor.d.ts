// Declarations for the untyped packages the runtime bundles: only what the
// runtime uses, typed loosely here and precisely where it is wrapped.
declare module "whatwg-url" {
  export const URL: unknown;
  export const URLSearchParams: unknown;
  /** The standard's URL record. */
  export interface URLRecord {
    scheme: string;
    username: string;
    password: string;
    host: unknown;
    port: number | null;
    path: string[] | string;
    query: string | null;
    fragment: string | null;
  }
  /** The basic URL parser: the record (`url` when given), or null for failure. */
  export function basicURLParse(input: string, options?: { baseURL?: URLRecord; url?: URLRecord; stateOverride?: string }): URLRecord | null;
  export function serializeHost(host: unknown): string;
}

declare module "tr46" {
  export interface ToASCIIOptions {
    checkHyphens?: boolean;
    checkBidi?: boolean;
    checkJoiners?: boolean;
    useSTD3ASCIIRules?: boolean;
    transitionalProcessing?: boolean;
    verifyDNSLength?: boolean;
    ignoreInvalidPunycode?: boolean;
  }
  export function toASCII(domain: string, options?: ToASCIIOptions): string | null;
}

/** Bundled by esbuild, which runs the required module on the first call. */
declare function require(id: "tr46/index.js"): unknown;

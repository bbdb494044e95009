// Declarations for the untyped packages the runtime bundles; url.ts gives them types.
declare module "core-js-pure/stable/url/index.js" {
  const URL: unknown;
  export default URL;
}
declare module "core-js-pure/stable/url-search-params/index.js" {
  const URLSearchParams: unknown;
  export default URLSearchParams;
}

// URLPattern, per the WHATWG URL Pattern Standard (https://urlpattern.spec.whatwg.org/),
// from urlpattern-polyfill. The build makes the polyfill use the runtime's URL
// (url.ts), so that user code replacing globalThis.URL cannot change it.
import { URLPattern } from "urlpattern-polyfill/urlpattern";

Object.defineProperty(URLPattern.prototype, Symbol.toStringTag, { value: "URLPattern", configurable: true });

export { URLPattern };

// The URL Standard's "domain to ASCII" for whatwg-url, which the build hands
// this module in place of tr46 (UTS #46). ASCII names are only lowercased, as
// the standard says since 2026 (whatwg/url a8d5ca3: web compatibility; whatwg-url
// 15.1 predates it). Anything else goes to tr46, loaded on first use so that its
// Unicode tables become heap (~200 KB, its mapping table packed by
// scripts/tr46-table.mjs) only in isolates that need them.
import type { ToASCIIOptions } from "tr46";

type Tr46 = typeof import("tr46");
let tr46: Tr46 | null = null;

const NON_ASCII = /[^\x00-\x7f]/;

export function toASCII(domain: string, options: ToASCIIOptions): string | null {
  // whatwg-url passes beStrict as these three options; the host parser passes false.
  const beStrict = Boolean(options.checkHyphens || options.useSTD3ASCIIRules || options.verifyDNSLength);
  if (!beStrict && !NON_ASCII.test(domain)) return domain.toLowerCase();
  // esbuild bundles this require(): tr46's module runs on the first call only.
  tr46 ??= require("tr46/index.js") as Tr46;
  return tr46.toASCII(domain, options);
}

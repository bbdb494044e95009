// The part of fflate the (de)compression streams use, as one module that
// compression.ts loads on first use (see there): naming the classes lets
// esbuild leave the rest of fflate out of the bundle.
export { Deflate, Gzip, Inflate, Zlib } from "fflate";

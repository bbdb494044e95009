// The types a function is written against: `import type { ExportedHandler } from "atoll/sdk"`.
// Types only: they are erased when the function is bundled, so nothing here runs in an isolate.
// The web platform globals (Request, Response, crypto, …) are in ./globals.d.ts,
// which a function's tsconfig names in "types": ["atoll/sdk/globals"].
export type { ExecutionContext, ExportedHandler, FetchHandler, ScheduledHandler, StorageHandler } from "./handler.js";
export type { ScheduledController, StorageEvent } from "./events.js";
export type { Fetcher } from "./service.js";
export type {
  KVNamespace,
  KVNamespaceGetOptions,
  KVNamespaceGetWithMetadataResult,
  KVNamespaceListKey,
  KVNamespaceListOptions,
  KVNamespaceListResult,
  KVNamespacePutOptions,
  KVValueType,
} from "./kv.js";
export type {
  Bucket,
  BucketConditional,
  BucketGetOptions,
  BucketHttpMetadata,
  BucketListOptions,
  BucketObject,
  BucketObjectBody,
  BucketObjects,
  BucketPutOptions,
  BucketRange,
} from "./bucket.js";

// crypto.subtle's host side for one isolate: runs its Web Crypto calls with
// Node's WebCrypto and keeps its CryptoKeys here, behind numbered handles, so
// key material enters the isolate only when exportKey or wrapKey of an
// extractable key asks for it. The isolate is hostile: the method, every
// argument's shape, every handle and every size is checked here, and work that
// could pin the host's CPU is capped, since it runs on Node's thread pool,
// outside the isolate's cpu_ms budget.
//
// Keys are freed when the isolate garbage-collects their CryptoKey objects,
// which V8 may put off for tens of thousands of requests. So identical imports
// (a JWT secret or public key imported on every request, as hono/jwt does)
// share one Node key and cost only a handle each, and an isolate whose keys
// crowd the host is retired by its FunctionIsolate (`crowded`), as a cold start.
import { createHash, webcrypto } from "node:crypto";
import type { KeyDescriptor, KeyHandle, SubtleError, SubtleMethod, SubtleResult } from "../../runtime/protocol.js";
import { MAX_RELEASED_KEYS_PER_MESSAGE, MAX_SUBTLE_INPUT_BYTES, SUBTLE_METHODS } from "../../runtime/protocol.js";

type NodeKey = webcrypto.CryptoKey;
type NodeAlgorithm = string | Record<string, unknown>;

/** Node's SubtleCrypto, typed as this module calls it: with arguments checked here first. */
interface NodeSubtle {
  encrypt(algorithm: NodeAlgorithm, key: NodeKey, data: Uint8Array): Promise<ArrayBuffer>;
  decrypt(algorithm: NodeAlgorithm, key: NodeKey, data: Uint8Array): Promise<ArrayBuffer>;
  sign(algorithm: NodeAlgorithm, key: NodeKey, data: Uint8Array): Promise<ArrayBuffer>;
  verify(algorithm: NodeAlgorithm, key: NodeKey, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
  digest(algorithm: NodeAlgorithm, data: Uint8Array): Promise<ArrayBuffer>;
  generateKey(algorithm: NodeAlgorithm, extractable: boolean, usages: string[]): Promise<NodeKey | { publicKey: NodeKey; privateKey: NodeKey }>;
  deriveKey(algorithm: NodeAlgorithm, baseKey: NodeKey, derivedKeyType: NodeAlgorithm, extractable: boolean, usages: string[]): Promise<NodeKey>;
  deriveBits(algorithm: NodeAlgorithm, baseKey: NodeKey, length: number | null): Promise<ArrayBuffer>;
  importKey(format: string, keyData: Uint8Array | Record<string, unknown>, algorithm: NodeAlgorithm, extractable: boolean, usages: string[]): Promise<NodeKey>;
  exportKey(format: string, key: NodeKey): Promise<ArrayBuffer | Record<string, unknown>>;
  wrapKey(format: string, key: NodeKey, wrappingKey: NodeKey, wrapAlgorithm: NodeAlgorithm): Promise<ArrayBuffer>;
  unwrapKey(
    format: string,
    wrappedKey: Uint8Array,
    unwrappingKey: NodeKey,
    unwrapAlgorithm: NodeAlgorithm,
    unwrappedKeyAlgorithm: NodeAlgorithm,
    extractable: boolean,
    usages: string[],
  ): Promise<NodeKey>;
}
const nodeSubtle = webcrypto.subtle as unknown as NodeSubtle;

export interface KeyVaultLimits {
  /** Most bytes one call may hand in, all inputs together; also the most bytes deriveBits may produce. Default 32 MiB. */
  maxInputBytes: number;
  /** Most distinct keys held at once per isolate (identical imports count once). Default 10,000. */
  maxKeys: number;
  /** Most CryptoKey handles alive at once per isolate. Default 100,000. */
  maxHandles: number;
  /** Most host memory, estimated in bytes, the held keys of one isolate may take. Default 64 MiB. */
  maxKeyBytes: number;
  /** Most PBKDF2 work per call: iterations × output blocks of the hash. Default 10 million. */
  maxPbkdf2Work: number;
  /** Largest RSA modulus generated or imported, in bits. Default 8192. */
  maxRsaModulusBits: number;
  /** Operations running at once per isolate; the others wait their turn in order. Default 2. */
  maxRunning: number;
  /** Operations waiting or running per isolate. Default 10,000. */
  maxPending: number;
  /** Input bytes held by waiting and running operations per isolate. Default 64 MiB. */
  maxPendingBytes: number;
}

export const DEFAULT_KEY_VAULT_LIMITS: Readonly<KeyVaultLimits> = {
  maxInputBytes: MAX_SUBTLE_INPUT_BYTES,
  maxKeys: 10_000,
  maxHandles: 100_000,
  maxKeyBytes: 64 * 1024 * 1024,
  maxPbkdf2Work: 10_000_000,
  maxRsaModulusBits: 8192,
  maxRunning: 2,
  maxPending: 10_000,
  maxPendingBytes: 64 * 1024 * 1024,
};

/** The answer to one call, ready for `resolve(op, ok, value)`. */
export type SubtleOutcome = { ok: true; value: SubtleResult } | { ok: false; error: SubtleError };

/** A refusal as the isolate will see it: `errorName` is "TypeError" or a DOMException name. */
export class SubtleRefusal extends Error {
  constructor(
    readonly errorName: string,
    message: string,
  ) {
    super(message);
  }
}

/** What this host offers, lower-cased: Web Crypto's algorithms plus Ed25519 and X25519. Node's Ed448 and X448 stay out. */
const ALGORITHMS = new Set([
  "rsassa-pkcs1-v1_5",
  "rsa-pss",
  "rsa-oaep",
  "ecdsa",
  "ecdh",
  "ed25519",
  "x25519",
  "aes-ctr",
  "aes-cbc",
  "aes-gcm",
  "aes-kw",
  "hmac",
  "sha-1",
  "sha-256",
  "sha-384",
  "sha-512",
  "hkdf",
  "pbkdf2",
]);
const RSA_ALGORITHMS = new Set(["rsassa-pkcs1-v1_5", "rsa-pss", "rsa-oaep"]);
const HASH_BYTES = new Map([
  ["sha-1", 20],
  ["sha-256", 32],
  ["sha-384", 48],
  ["sha-512", 64],
]);
const METHODS = new Set<string>(SUBTLE_METHODS);
const ARITY: Record<SubtleMethod, number> = {
  encrypt: 3,
  decrypt: 3,
  sign: 3,
  verify: 4,
  digest: 2,
  generateKey: 3,
  deriveKey: 5,
  deriveBits: 3,
  importKey: 5,
  exportKey: 2,
  wrapKey: 4,
  unwrapKey: 7,
};
const KEY_USAGES = new Set(["encrypt", "decrypt", "sign", "verify", "deriveKey", "deriveBits", "wrapKey", "unwrapKey"]);
const KEY_FORMATS = new Set(["raw", "spki", "pkcs8", "jwk"]);
/** Algorithm dictionary members, as the runtime converted them (protocol.ts, SubtleAlgorithm). */
const MEMBER_KINDS = new Map<string, "string" | "number" | "bytes" | "hash" | "key">([
  ["name", "string"],
  ["namedCurve", "string"],
  ["length", "number"],
  ["tagLength", "number"],
  ["iterations", "number"],
  ["modulusLength", "number"],
  ["saltLength", "number"],
  ["iv", "bytes"],
  ["counter", "bytes"],
  ["additionalData", "bytes"],
  ["salt", "bytes"],
  ["info", "bytes"],
  ["label", "bytes"],
  ["publicExponent", "bytes"],
  ["hash", "hash"],
  ["public", "key"],
]);
const JWK_STRINGS = new Set(["kty", "use", "alg", "crv", "x", "y", "d", "n", "e", "p", "q", "dp", "dq", "qi", "k"]);
const MAX_JWK_LIST = 16;
const DOM_EXCEPTION_NAMES = new Set(["NotSupportedError", "InvalidAccessError", "DataError", "OperationError", "SyntaxError", "QuotaExceededError", "InvalidStateError"]);
const MAX_ERROR_MESSAGE_CHARS = 1024;
/**
 * What a key costs the host beyond its material, roughly: measured on Node 20,
 * ~4 KB of RSS per HMAC key and ~7 KB per P-256 key (KeyObject, OpenSSL's
 * EVP_PKEY, allocator slack).
 */
const SECRET_KEY_OVERHEAD_BYTES = 4096;
const ASYMMETRIC_KEY_OVERHEAD_BYTES = 8192;
/** Imports of at most this many input bytes are recognised as identical and share a key. */
const MAX_SHARED_IMPORT_BYTES = 64 * 1024;

interface Job {
  inputBytes: number;
  execute: () => Promise<SubtleResult>;
}

/** Counts the bytes one call hands in. */
class Input {
  bytes = 0;
  constructor(private readonly max: number) {}

  count(bytes: number): void {
    this.bytes += bytes;
    if (this.bytes > this.max) throw new SubtleRefusal("QuotaExceededError", `crypto.subtle: a call takes at most ${this.max} bytes of input on this host`);
  }

  data(value: unknown, what: string): Uint8Array {
    if (!(value instanceof Uint8Array)) throw malformed(what);
    this.count(value.byteLength);
    return value;
  }

  text(value: unknown, what: string): string {
    if (typeof value !== "string") throw malformed(what);
    this.count(value.length);
    return value;
  }
}

/** A key Node holds, and how many of the isolate's handles point at it. */
interface HeldKey {
  key: NodeKey;
  /** Estimated host memory. */
  bytes: number;
  handles: number;
  /** For an import: what identifies identical imports, which share this key. */
  importId: string | null;
}

/** One isolate's keys, and the door through which its crypto.subtle calls reach Node. */
export class KeyVault {
  private readonly handles = new Map<KeyHandle, HeldKey>();
  /** Held keys that came from importKey, by import identity. */
  private readonly imports = new Map<string, HeldKey>();
  private lastHandle = 0;
  private heldKeys = 0;
  private keyBytes = 0;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private pending = 0;
  private pendingBytes = 0;
  private disposed = false;

  constructor(private readonly limits: Readonly<KeyVaultLimits> = DEFAULT_KEY_VAULT_LIMITS) {}

  /** Live handles: the isolate's CryptoKeys not yet reported garbage-collected. */
  get size(): number {
    return this.handles.size;
  }

  /** Distinct keys held for the isolate. */
  get keyCount(): number {
    return this.heldKeys;
  }

  /** Estimated host memory the held keys take, bytes. */
  get bytes(): number {
    return this.keyBytes;
  }

  /**
   * Past half of a limit: the isolate should serve no more invocations (a
   * fresh one takes over), before its calls start to be refused.
   */
  get crowded(): boolean {
    const { maxKeys, maxHandles, maxKeyBytes } = this.limits;
    return this.heldKeys * 2 > maxKeys || this.handles.size * 2 > maxHandles || this.keyBytes * 2 > maxKeyBytes;
  }

  /**
   * Runs one call from the isolate. Never rejects: a refusal or a failure
   * resolves to { ok: false, error } with a name and message, never a host stack.
   * Handles are looked up now, so a key released while the call waits its turn
   * still serves it.
   */
  run(method: unknown, args: unknown): Promise<SubtleOutcome> {
    let job: Job;
    try {
      job = this.prepare(method, args);
      if (this.pending >= this.limits.maxPending) {
        throw new SubtleRefusal("QuotaExceededError", `crypto.subtle: at most ${this.limits.maxPending} calls may be in progress at once in one isolate`);
      }
      if (this.pendingBytes + job.inputBytes > this.limits.maxPendingBytes) {
        throw new SubtleRefusal("QuotaExceededError", `crypto.subtle: calls in progress may hold at most ${this.limits.maxPendingBytes} bytes of input in one isolate`);
      }
    } catch (error) {
      return Promise.resolve({ ok: false, error: errorOf(error) });
    }
    this.pending++;
    this.pendingBytes += job.inputBytes;
    return this.inTurn(job.execute).then(
      (value): SubtleOutcome => {
        this.settled(job);
        return { ok: true, value };
      },
      (error: unknown): SubtleOutcome => {
        this.settled(job);
        return { ok: false, error: errorOf(error) };
      },
    );
  }

  /** The isolate's CryptoKey objects for these handles were garbage-collected. Unknown handles are ignored. */
  release(handles: unknown): void {
    if (!Array.isArray(handles)) return;
    for (let i = 0; i < handles.length && i < MAX_RELEASED_KEYS_PER_MESSAGE; i++) {
      const handle: unknown = handles[i];
      const held = typeof handle === "number" ? this.handles.get(handle) : undefined;
      if (!held) continue;
      this.handles.delete(handle as number);
      if (--held.handles > 0) continue;
      if (held.importId !== null) this.imports.delete(held.importId);
      this.heldKeys--;
      this.keyBytes -= held.bytes;
    }
  }

  /** Drops every key; calls still running finish without keeping what they make. */
  dispose(): void {
    this.disposed = true;
    this.handles.clear();
    this.imports.clear();
    this.heldKeys = 0;
    this.keyBytes = 0;
    for (const wake of this.waiting.splice(0)) {
      this.running++;
      wake();
    }
  }

  private settled(job: Job): void {
    this.pending--;
    this.pendingBytes -= job.inputBytes;
  }

  /** Runs `work` when one of the isolate's slots is free; a finishing call hands its slot to the next in line. */
  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.limits.maxRunning) this.running++;
    else await new Promise<void>((wake) => this.waiting.push(wake));
    try {
      if (this.disposed) throw new SubtleRefusal("OperationError", "crypto.subtle: the isolate is shutting down");
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Checks one call's method and arguments, looks up its keys, and returns the work to do. */
  private prepare(method: unknown, args: unknown): Job {
    if (typeof method !== "string" || !METHODS.has(method)) throw malformed("method");
    const name = method as SubtleMethod;
    if (!Array.isArray(args) || args.length !== ARITY[name]) throw malformed(`arguments to ${name}`);
    const input = new Input(this.limits.maxInputBytes);
    const job = (execute: () => Promise<SubtleResult>): Job => ({ inputBytes: input.bytes, execute });
    switch (name) {
      case "encrypt":
      case "decrypt":
      case "sign": {
        const algorithm = this.algorithm(args[0], input);
        const key = this.key(args[1]);
        const data = input.data(args[2], "data");
        return job(async () => bytesResult(await nodeSubtle[name](algorithm, key, data)));
      }
      case "verify": {
        const algorithm = this.algorithm(args[0], input);
        const key = this.key(args[1]);
        const signature = input.data(args[2], "signature");
        const data = input.data(args[3], "data");
        return job(async () => (await nodeSubtle.verify(algorithm, key, signature, data)) === true);
      }
      case "digest": {
        const algorithm = this.algorithm(args[0], input);
        const data = input.data(args[1], "data");
        return job(async () => bytesResult(await nodeSubtle.digest(algorithm, data)));
      }
      case "generateKey": {
        const algorithm = this.algorithm(args[0], input);
        const extractable = flag(args[1]);
        const usages = usagesOf(args[2]);
        this.limitGenerate(algorithm);
        this.makeRoom(2, 2, 0);
        return job(async () => {
          const made = await nodeSubtle.generateKey(algorithm, extractable, usages);
          if (!("privateKey" in made)) return this.store(made, 0, null);
          this.makeRoom(2, 2, estimateKeyBytes(made.publicKey, 0) + estimateKeyBytes(made.privateKey, 0));
          return { publicKey: this.store(made.publicKey, 0, null), privateKey: this.store(made.privateKey, 0, null) };
        });
      }
      case "deriveKey": {
        const algorithm = this.algorithm(args[0], input);
        const baseKey = this.key(args[1]);
        const derivedKeyType = this.algorithm(args[2], input);
        const extractable = flag(args[3]);
        const usages = usagesOf(args[4]);
        const length = typeof derivedKeyType === "object" && typeof derivedKeyType.length === "number" ? derivedKeyType.length : 1024;
        this.limitDerive(algorithm, length);
        this.limitGenerate(derivedKeyType);
        this.makeRoom(1, 1, 0);
        return job(async () => this.store(await nodeSubtle.deriveKey(algorithm, baseKey, derivedKeyType, extractable, usages), 0, null));
      }
      case "deriveBits": {
        const algorithm = this.algorithm(args[0], input);
        const baseKey = this.key(args[1]);
        const length = args[2];
        if (length !== null && !(Number.isInteger(length) && (length as number) >= 0 && (length as number) < 2 ** 32)) throw malformed("length");
        this.limitDerive(algorithm, (length as number | null) ?? 0);
        return job(async () => bytesResult(await nodeSubtle.deriveBits(algorithm, baseKey, length as number | null)));
      }
      case "importKey": {
        const format = formatOf(args[0]);
        const keyData = format === "jwk" ? jwkOf(args[1], input) : input.data(args[1], "keyData");
        const algorithm = this.algorithm(args[2], input);
        const extractable = flag(args[3]);
        const usages = usagesOf(args[4]);
        const size = input.bytes;
        const importId = size <= MAX_SHARED_IMPORT_BYTES ? importIdentity(format, keyData, algorithm, extractable, usages) : null;
        const same = importId === null ? undefined : this.imports.get(importId);
        // The same import again: share the key Node made the first time.
        this.makeRoom(same ? 0 : 1, 1, 0);
        if (same) return job(async () => this.store(same.key, size, importId));
        return job(async () => this.store(await nodeSubtle.importKey(format, keyData, algorithm, extractable, usages), size, importId));
      }
      case "exportKey": {
        const format = formatOf(args[0]);
        const key = this.key(args[1]);
        return job(async () => {
          const exported = await nodeSubtle.exportKey(format, key);
          return exported instanceof ArrayBuffer ? bytesResult(exported) : jwkResult(exported);
        });
      }
      case "wrapKey": {
        const format = formatOf(args[0]);
        const key = this.key(args[1]);
        const wrappingKey = this.key(args[2]);
        const algorithm = this.algorithm(args[3], input);
        return job(async () => bytesResult(await nodeSubtle.wrapKey(format, key, wrappingKey, algorithm)));
      }
      case "unwrapKey": {
        const format = formatOf(args[0]);
        const wrappedKey = input.data(args[1], "wrappedKey");
        const unwrappingKey = this.key(args[2]);
        const unwrapAlgorithm = this.algorithm(args[3], input);
        const unwrappedKeyAlgorithm = this.algorithm(args[4], input);
        const extractable = flag(args[5]);
        const usages = usagesOf(args[6]);
        this.makeRoom(1, 1, 0);
        return job(async () =>
          this.store(await nodeSubtle.unwrapKey(format, wrappedKey, unwrappingKey, unwrapAlgorithm, unwrappedKeyAlgorithm, extractable, usages), wrappedKey.byteLength, null),
        );
      }
    }
  }

  /** An algorithm from the isolate, rebuilt from the members it may have, its key member looked up. */
  private algorithm(raw: unknown, input: Input): NodeAlgorithm {
    if (typeof raw === "string") return offered(input.text(raw, "algorithm name"));
    if (!isPlainObject(raw)) throw malformed("algorithm");
    const algorithm: Record<string, unknown> = {};
    for (const [member, value] of Object.entries(raw)) {
      const kind = MEMBER_KINDS.get(member);
      if (kind === undefined) throw malformed("algorithm member");
      if (value === undefined) continue;
      switch (kind) {
        case "string":
          algorithm[member] = input.text(value, member);
          break;
        case "number":
          if (typeof value !== "number") throw malformed(member);
          algorithm[member] = value;
          break;
        case "bytes":
          // null: the user's value was no BufferSource; Node says so if the algorithm has that member.
          algorithm[member] = value === null ? null : input.data(value, member);
          break;
        case "hash":
          if (typeof value === "string") algorithm[member] = input.text(value, member);
          else if (isPlainObject(value) && (value.name === undefined || typeof value.name === "string")) {
            algorithm[member] = value.name === undefined ? {} : { name: input.text(value.name, "hash.name") };
          } else throw malformed(member);
          break;
        case "key":
          algorithm[member] = value === null ? null : this.key(value);
          break;
      }
    }
    if (typeof algorithm.name === "string") offered(algorithm.name);
    return algorithm;
  }

  private key(raw: unknown): NodeKey {
    const held = typeof raw === "number" ? this.handles.get(raw) : undefined;
    if (!held) throw new SubtleRefusal("InvalidAccessError", "crypto.subtle: the key is not one of this isolate's keys");
    return held.key;
  }

  /** Refuses key generation that would take the host's CPU or memory for long: big RSA moduli, huge HMAC keys. */
  private limitGenerate(algorithm: NodeAlgorithm): void {
    if (typeof algorithm !== "object" || typeof algorithm.name !== "string") return;
    const name = algorithm.name.toLowerCase();
    if (RSA_ALGORITHMS.has(name) && typeof algorithm.modulusLength === "number" && algorithm.modulusLength > this.limits.maxRsaModulusBits) {
      throw new SubtleRefusal("OperationError", `crypto.subtle: RSA moduli are limited to ${this.limits.maxRsaModulusBits} bits on this host`);
    }
    if (name === "hmac" && typeof algorithm.length === "number" && algorithm.length > this.limits.maxInputBytes * 8) {
      throw new SubtleRefusal("OperationError", `crypto.subtle: HMAC keys are limited to ${this.limits.maxInputBytes * 8} bits on this host`);
    }
  }

  /** Refuses derivations that would produce too much or run too long: PBKDF2's iterations × output blocks. */
  private limitDerive(algorithm: NodeAlgorithm, lengthBits: number): void {
    if (lengthBits > this.limits.maxInputBytes * 8) {
      throw new SubtleRefusal("OperationError", `crypto.subtle: derivations are limited to ${this.limits.maxInputBytes * 8} bits on this host`);
    }
    if (typeof algorithm !== "object" || typeof algorithm.name !== "string" || algorithm.name.toLowerCase() !== "pbkdf2") return;
    const iterations = algorithm.iterations;
    if (typeof iterations !== "number" || !Number.isFinite(iterations)) return; // Node refuses it
    const hash = typeof algorithm.hash === "string" ? algorithm.hash : (algorithm.hash as { name?: string } | undefined)?.name;
    const hashBytes = HASH_BYTES.get(String(hash).toLowerCase()) ?? 20;
    const blocks = Math.max(1, Math.ceil(lengthBits / 8 / hashBytes));
    if (iterations * blocks > this.limits.maxPbkdf2Work) {
      throw new SubtleRefusal(
        "OperationError",
        `crypto.subtle: PBKDF2 is limited to ${this.limits.maxPbkdf2Work} iterations × output blocks per call on this host (asked: ${iterations} × ${blocks})`,
      );
    }
  }

  /** Refuses `keys` new held keys taking `bytes`, and `handles` new handles, beyond the isolate's key limits. */
  private makeRoom(keys: number, handles: number, bytes: number): void {
    if (this.disposed) throw new SubtleRefusal("OperationError", "crypto.subtle: the isolate is shutting down");
    const { maxKeys, maxHandles, maxKeyBytes } = this.limits;
    if (this.heldKeys + keys > maxKeys || this.handles.size + handles > maxHandles || this.keyBytes + bytes > maxKeyBytes) {
      throw new SubtleRefusal(
        "QuotaExceededError",
        `crypto.subtle: too many live CryptoKeys in this isolate (at most ${maxKeys} distinct keys, ${maxHandles} CryptoKey objects, ${maxKeyBytes} bytes); ` +
          "keep and reuse keys rather than making new ones per request (keys are freed once garbage-collected)",
      );
    }
  }

  /**
   * Gives the isolate a handle to a key Node made and describes it.
   * `sourceBytes`: what it was made from. `importId`: identical imports share one key.
   */
  private store(key: NodeKey, sourceBytes: number, importId: string | null): KeyDescriptor {
    const algorithm = key.algorithm as { name: string; modulusLength?: number };
    if (typeof algorithm.modulusLength === "number" && algorithm.modulusLength > this.limits.maxRsaModulusBits) {
      throw new SubtleRefusal("OperationError", `crypto.subtle: RSA moduli are limited to ${this.limits.maxRsaModulusBits} bits on this host`);
    }
    let held = importId === null ? undefined : this.imports.get(importId);
    if (held) this.makeRoom(0, 1, 0);
    else {
      const bytes = estimateKeyBytes(key, sourceBytes);
      this.makeRoom(1, 1, bytes);
      held = { key, bytes, handles: 0, importId };
      if (importId !== null) this.imports.set(importId, held);
      this.heldKeys++;
      this.keyBytes += bytes;
    }
    const handle = ++this.lastHandle;
    held.handles++;
    this.handles.set(handle, held);
    return {
      handle,
      type: held.key.type,
      extractable: held.key.extractable,
      algorithm: plainAlgorithm(held.key.algorithm as unknown as Record<string, unknown>),
      usages: held.key.usages.filter((usage) => KEY_USAGES.has(usage)) as KeyDescriptor["usages"],
    };
  }
}
function malformed(what: string): SubtleRefusal {
  return new SubtleRefusal("TypeError", `crypto.subtle: malformed ${what} from the runtime`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** An algorithm name this host offers; Node then matches it case-insensitively per operation. */
function offered(name: string): string {
  if (!ALGORITHMS.has(name.toLowerCase())) throw new SubtleRefusal("NotSupportedError", `Unrecognized algorithm name: ${name.slice(0, 64)}`);
  return name;
}

function flag(value: unknown): boolean {
  if (typeof value !== "boolean") throw malformed("extractable");
  return value;
}

function formatOf(value: unknown): string {
  if (typeof value !== "string" || !KEY_FORMATS.has(value)) throw malformed("format");
  return value;
}

function usagesOf(value: unknown): string[] {
  if (!Array.isArray(value) || value.length > KEY_USAGES.size || !value.every((usage) => typeof usage === "string" && KEY_USAGES.has(usage))) {
    throw malformed("key usages");
  }
  return [...(value as string[])];
}

/** A JsonWebKey from the isolate, rebuilt from the members JsonWebKey has. */
function jwkOf(raw: unknown, input: Input): Record<string, unknown> {
  if (!isPlainObject(raw)) throw malformed("JsonWebKey");
  const jwk: Record<string, unknown> = {};
  for (const [member, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    if (JWK_STRINGS.has(member)) jwk[member] = input.text(value, `JsonWebKey ${member}`);
    else if (member === "ext") jwk.ext = flag(value);
    else if (member === "key_ops") {
      if (!Array.isArray(value) || value.length > MAX_JWK_LIST) throw malformed("JsonWebKey key_ops");
      jwk.key_ops = value.map((op) => input.text(op, "JsonWebKey key_ops"));
    } else if (member === "oth") {
      if (!Array.isArray(value) || value.length > MAX_JWK_LIST) throw malformed("JsonWebKey oth");
      jwk.oth = value.map((info: unknown) => {
        if (!isPlainObject(info)) throw malformed("JsonWebKey oth");
        const prime: Record<string, string> = {};
        for (const key of ["r", "d", "t"]) if (info[key] !== undefined) prime[key] = input.text(info[key], "JsonWebKey oth");
        return prime;
      });
    } else throw malformed("JsonWebKey member");
  }
  return jwk;
}

function bytesResult(buffer: ArrayBuffer): Uint8Array {
  return new Uint8Array(buffer);
}

/** An exported JWK, copied member by member: only strings, booleans and lists of them cross. */
function jwkResult(exported: Record<string, unknown>): SubtleResult {
  const jwk: Record<string, string | boolean | string[] | Record<string, string>[]> = {};
  for (const [member, value] of Object.entries(exported)) {
    if (typeof value === "string" || typeof value === "boolean") jwk[member] = value;
    else if (Array.isArray(value) && value.every((item) => typeof item === "string")) jwk[member] = [...(value as string[])];
    else if (Array.isArray(value)) jwk[member] = value.map((item: Record<string, unknown>) => Object.fromEntries(Object.entries(item).map(([k, v]) => [k, String(v)])));
  }
  return jwk;
}

/** A key's KeyAlgorithm as plain data: name, length, hash { name }, namedCurve, modulusLength, publicExponent. */
function plainAlgorithm(algorithm: Record<string, unknown>): KeyDescriptor["algorithm"] {
  const plain: KeyDescriptor["algorithm"] = {};
  for (const [member, value] of Object.entries(algorithm)) {
    if (typeof value === "string" || typeof value === "number") plain[member] = value;
    else if (value instanceof Uint8Array) plain[member] = new Uint8Array(value);
    else if (isPlainObject(value) && typeof value.name === "string") plain[member] = { name: value.name };
  }
  return plain;
}

/** Roughly what a key takes in host memory; at least what it was made from (`sourceBytes`). */
function estimateKeyBytes(key: NodeKey, sourceBytes: number): number {
  const algorithm = key.algorithm as { length?: number; modulusLength?: number };
  if (key.type === "secret") return SECRET_KEY_OVERHEAD_BYTES + Math.max(sourceBytes, Math.ceil((algorithm.length ?? 0) / 8));
  const material = typeof algorithm.modulusLength === "number" ? Math.ceil(algorithm.modulusLength / 8) * (key.type === "private" ? 5 : 1) : 0;
  return ASYMMETRIC_KEY_OVERHEAD_BYTES + Math.max(sourceBytes, material);
}

/**
 * What makes two imports identical: every argument, the key data by its
 * SHA-256. Null when an argument cannot be compared (a key in the algorithm).
 */
function importIdentity(format: string, keyData: Uint8Array | Record<string, unknown>, algorithm: NodeAlgorithm, extractable: boolean, usages: string[]): string | null {
  if (typeof algorithm === "object" && algorithm.public !== undefined) return null;
  const hash = createHash("sha256");
  hash.update(JSON.stringify([format, algorithm, extractable, usages]));
  hash.update("\0");
  if (keyData instanceof Uint8Array) hash.update(keyData);
  else hash.update(JSON.stringify(keyData));
  return hash.digest("base64");
}

/** Any failure as the isolate may see it: a TypeError or DOMException name and a message, nothing of the host. */
function errorOf(error: unknown): SubtleError {
  const name = error instanceof SubtleRefusal ? error.errorName : (error as { name?: unknown } | null)?.name;
  const raw = (error as { message?: unknown } | null)?.message;
  const message = (typeof raw === "string" && raw !== "" ? raw : "The operation failed for an operation-specific reason").slice(0, MAX_ERROR_MESSAGE_CHARS);
  if (name === "TypeError") return { name, message };
  // Node 20 names one of its InvalidAccessErrors "InvalidAccessException".
  if (name === "InvalidAccessException") return { name: "InvalidAccessError", message };
  if (typeof name === "string" && DOM_EXCEPTION_NAMES.has(name)) return { name, message };
  return { name: "OperationError", message };
}

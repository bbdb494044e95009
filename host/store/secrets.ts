// Secrets at rest: AES-256-GCM under a host key kept in its own file
// (<dataDir>/secrets.key, mode 0600), apart from the database, so that a copy
// of the database alone reveals no secret. Each value gets a random nonce and
// is bound to its script and name (associated data): a sealed value copied to
// another script or name does not open.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SecretsKeyError, SecretUnreadableError } from "../errors.js";
import type { Store } from "./store.js";

export const SECRETS_KEY_FILE_NAME = "secrets.key";

/** Layout of a sealed value: format byte, nonce, ciphertext, tag. */
const FORMAT_V1 = 1;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class SecretBox {
  readonly fingerprint: string;

  constructor(private readonly key: Buffer) {
    if (key.byteLength !== KEY_BYTES) throw new Error(`a secrets key is ${KEY_BYTES} bytes, got ${key.byteLength}`);
    // A MAC of a constant: tells keys apart without revealing anything about them.
    this.fingerprint = createHmac("sha256", key).update("atoll secrets key fingerprint v1").digest("hex").slice(0, 32);
  }

  seal(script: string, name: string, value: string): Uint8Array {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(script, name));
    const ciphertext = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT_V1]), nonce, ciphertext, cipher.getAuthTag()]);
  }

  /** Throws SecretUnreadableError when the value was altered or sealed for another script, name or key. */
  open(script: string, name: string, sealed: Uint8Array): string {
    const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (bytes.byteLength < 1 + NONCE_BYTES + TAG_BYTES || bytes[0] !== FORMAT_V1) throw new SecretUnreadableError(script, name);
    const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
    const tag = bytes.subarray(bytes.byteLength - TAG_BYTES);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, nonce, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(script, name));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(bytes.subarray(1 + NONCE_BYTES, bytes.byteLength - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new SecretUnreadableError(script, name);
    }
  }
}

/** NUL cannot occur in a script name or a secret name, so no two pairs share associated data. */
function associatedData(script: string, name: string): Buffer {
  return Buffer.from(`atoll-secret\0${script}\0${name}`, "utf8");
}

/**
 * The host's SecretBox: reads <dataDir>/secrets.key, or creates it (mode 0600)
 * on first start, and checks it against the fingerprint the store recorded. A
 * missing or different key while the store holds secrets stops the host with
 * a clear error rather than leaving every secret unreadable.
 */
export async function openSecretBox(dataDir: string, store: Store, options: { shared?: boolean } = {}): Promise<{ box: SecretBox; file: string }> {
  const file = join(dataDir, SECRETS_KEY_FILE_NAME);
  const recorded = await store.getSecretsKeyFingerprint();
  const stored = await store.countSecrets();
  // Hosts sharing a store share one key: once one host recorded it, another may not start with its own.
  if (options.shared && recorded !== undefined) {
    if (!existsSync(file)) {
      throw new SecretsKeyError(`the shared store's secrets are sealed with a key this host does not have: copy ${SECRETS_KEY_FILE_NAME} from the data directory of a host already using this store to ${file} (mode 0600), then start again`);
    }
    const box = new SecretBox(readKeyFile(file));
    if (box.fingerprint !== recorded) {
      throw new SecretsKeyError(`${file} is not the secrets key of the hosts already using this store: copy ${SECRETS_KEY_FILE_NAME} from one of them (every host of a cluster shares one key)`);
    }
    return { box, file };
  }
  let box: SecretBox;
  if (existsSync(file)) {
    box = new SecretBox(readKeyFile(file));
  } else {
    if (recorded !== undefined && stored > 0) {
      throw new SecretsKeyError(
        `the secrets key ${file} is missing, and the database holds ${stored} secret(s) sealed with it: restore that file from the backup of this data directory (a new key cannot open them), or delete the database's secrets`,
      );
    }
    const key = randomBytes(KEY_BYTES);
    writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
    box = new SecretBox(key);
  }
  if (recorded !== box.fingerprint) {
    if (recorded !== undefined && stored > 0) {
      throw new SecretsKeyError(
        `the secrets key in ${file} is not the key the database's ${stored} secret(s) were sealed with: put the original secrets.key back (from the backup of this data directory)`,
      );
    }
    // No secret is sealed with the old key (or none was recorded yet): this key is the host's from now on.
    await store.setSecretsKeyFingerprint(box.fingerprint);
  }
  return { box, file };
}

function readKeyFile(file: string): Buffer {
  const text = readFileSync(file, "utf8").trim();
  const key = Buffer.from(text, "base64");
  if (key.byteLength !== KEY_BYTES || key.toString("base64") !== text) {
    throw new SecretsKeyError(`${file} is not a secrets key (${KEY_BYTES} random bytes in base64, as the host writes on first start): restore the original file`);
  }
  return key;
}

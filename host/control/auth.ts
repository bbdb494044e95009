// The control API's bearer token: generated on first start, kept in the data
// directory (mode 0600), compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const TOKEN_FILE_NAME = "admin-token";

export function loadOrCreateToken(dataDir: string): { token: string; file: string } {
  const file = join(dataDir, TOKEN_FILE_NAME);
  if (existsSync(file)) {
    const token = readFileSync(file, "utf8").trim();
    if (token.length >= 32) return { token, file };
  }
  // A prefix: a token that began with "-" would read as a flag in `--token <token>` (and is easy to grep for in leaks).
  const token = `atoll_${randomBytes(32).toString("base64url")}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}

/** True when the Authorization header carries exactly `token` (timing does not depend on where they differ). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  return tokenMatches(header.slice("Bearer ".length), token);
}

/** True when `given` (surrounding spaces ignored) is exactly `token`, compared in constant time (the dashboard's login uses it too). */
export function tokenMatches(given: string, token: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given.trim()), digest(token));
}

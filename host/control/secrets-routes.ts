// Control API routes for a script's secrets: put, list (names only), delete.
// Mounted under /v1/scripts by ./app.ts (behind its token). A value goes
// straight to Deployments.putSecret, which seals it: it is never returned,
// logged, or put in an error message.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { BadRequestError, NotFoundError, SecretTooLargeError } from "../errors.js";
import type { Deployments } from "../front/deployments.js";
import { scriptName, secretName } from "./params.js";

export interface SecretRoutesOptions {
  deployments: Deployments;
  log(line: string): void;
}

/** Largest secret value, bytes of UTF-8 (64 KiB): secrets are keys and tokens, copied into every isolate of the script. */
export const MAX_SECRET_VALUE_BYTES = 64 * 1024;

export function secretRoutes({ deployments, log }: SecretRoutesOptions): Hono {
  const app = new Hono();

  app.put(
    "/:name/secrets/:key",
    bodyLimit({
      // JSON escapes (\uXXXX) may take six bytes per byte of value.
      maxSize: MAX_SECRET_VALUE_BYTES * 6 + 1024,
      onError: () => {
        throw new SecretTooLargeError(undefined, MAX_SECRET_VALUE_BYTES);
      },
    }),
    async (c) => {
      const name = scriptName(c.req.param("name"));
      const key = secretName(c.req.param("key"));
      const value = parseSecretBody(await c.req.text());
      const saved = await deployments.putSecret(name, key, value);
      log(`secret ${key} of ${name} ${saved.created ? "added" : "replaced"}`);
      return c.json({ name, key, created: saved.created, updated_at: saved.updatedAt }, saved.created ? 201 : 200);
    },
  );

  app.get("/:name/secrets", async (c) => {
    const name = scriptName(c.req.param("name"));
    const secrets = await deployments.listSecrets(name);
    return c.json({ name, secrets: secrets.map((secret) => ({ key: secret.key, updated_at: secret.updatedAt })) });
  });

  app.delete("/:name/secrets/:key", async (c) => {
    const name = scriptName(c.req.param("name"));
    const key = secretName(c.req.param("key"));
    if (!(await deployments.deleteSecret(name, key))) throw new NotFoundError(`secret "${key}" of script "${name}"`);
    log(`secret ${key} of ${name} deleted`);
    return c.json({ name, deleted: key });
  });

  return app;
}

/** `{ "value": "…" }`. No message here quotes the body: it holds the secret. */
function parseSecretBody(text: string): string {
  const usage = 'the body must be JSON: { "value": "<the secret>" }';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequestError(usage);
  }
  const value = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["value"] : undefined;
  if (typeof value !== "string") throw new BadRequestError(`"value" is missing or not a string: ${usage}`);
  if (value.length === 0) throw new BadRequestError('"value" is empty: a secret needs a value (to remove one, delete it)');
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_SECRET_VALUE_BYTES) throw new SecretTooLargeError(bytes, MAX_SECRET_VALUE_BYTES);
  return value;
}

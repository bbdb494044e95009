// Path parameters of the control API, checked once: script names, version
// numbers and secret names, each refused with its own clear error.
import { isValidScriptName, isValidVarName } from "../config/script-config.js";
import { BadRequestError, BadScriptNameError, BadSecretNameError } from "../errors.js";

export function scriptName(name: string): string {
  if (!isValidScriptName(name)) throw new BadScriptNameError(name);
  return name;
}

export function secretName(key: string): string {
  if (!isValidVarName(key)) throw new BadSecretNameError(key);
  return key;
}

/** A version number from a path or query: a positive integer. */
export function versionNumber(value: unknown, what: string): number {
  const number = typeof value === "string" && /^\d{1,15}$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number) || number < 1) {
    throw new BadRequestError(`${what} must be a version number (1, 2, 3 …), got ${JSON.stringify(value)?.slice(0, 40) ?? "nothing"}`);
  }
  return number;
}

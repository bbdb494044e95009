// WebIDL constants (https://webidl.spec.whatwg.org/#es-constants): on the
// interface object and on its prototype alike (`Event.NONE` and `event.NONE`).

/** Copies a class's static UPPER_CASE number fields onto its prototype, read-only and enumerable as WebIDL says. */
export function defineConstantsOnPrototype(constructor: { prototype: object }): void {
  for (const name of Object.getOwnPropertyNames(constructor)) {
    const value = (constructor as unknown as Record<string, unknown>)[name];
    if (/^[A-Z][A-Z_]*$/.test(name) && typeof value === "number") {
      Object.defineProperty(constructor.prototype, name, { value, writable: false, enumerable: true, configurable: false });
    }
  }
}

// FormData, per XHR (https://xhr.spec.whatwg.org/#interface-formdata): an
// ordered list of (name, string or File) entries. Strings are kept as given;
// line breaks become CRLF only when the list is serialized (multipart.ts).
import { Blob, File, blobParts, fileFromParts } from "./blob.js";
import { toUSVString } from "./encoding.js";

export type FormDataEntryValue = string | File;
export type FormDataEntry = [name: string, value: FormDataEntryValue];

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

function requireArguments(what: string, count: number, needed: number): void {
  if (count < needed) throw new TypeError(`FormData.${what}: ${needed} argument${needed === 1 ? "" : "s"} required, but only ${count} present.`);
}

/** XHR's "create an entry": Blobs become Files (named "blob" unless a filename is given). */
function makeEntry(what: string, name: unknown, value: unknown, filename: unknown, count: number): FormDataEntry {
  const key = toUSVString(name);
  if (!(value instanceof Blob)) {
    if (count > 2) throw new TypeError(`FormData.${what}: the value must be a Blob or File when a filename is given`);
    return [key, toUSVString(value)];
  }
  if (value instanceof File && filename === undefined) return [key, value];
  const lastModified = value instanceof File ? value.lastModified : Date.now();
  const fileName = filename !== undefined ? toUSVString(filename) : value instanceof File ? value.name : "blob";
  return [key, fileFromParts(blobParts(value), fileName, value.type, lastModified)];
}

/** Internals for multipart.ts and Body. */
export let formEntries: (form: FormData) => readonly FormDataEntry[];
export let appendEntry: (form: FormData, name: string, value: FormDataEntryValue) => void;

export class FormData {
  #entries: FormDataEntry[] = [];

  constructor(form?: unknown) {
    if (form !== undefined) {
      throw new TypeError("FormData: there are no HTML forms in Atoll, so FormData takes no form argument; use new FormData() and append()");
    }
  }

  append(name: string, value: string | Blob, filename?: string): void {
    requireArguments("append", arguments.length, 2);
    this.#entries.push(makeEntry("append", name, value, filename, arguments.length));
  }

  delete(name: string): void {
    requireArguments("delete", arguments.length, 1);
    const key = toUSVString(name);
    this.#entries = this.#entries.filter((entry) => entry[0] !== key);
  }

  get(name: string): FormDataEntryValue | null {
    requireArguments("get", arguments.length, 1);
    const key = toUSVString(name);
    for (const entry of this.#entries) if (entry[0] === key) return entry[1];
    return null;
  }

  getAll(name: string): FormDataEntryValue[] {
    requireArguments("getAll", arguments.length, 1);
    const key = toUSVString(name);
    const values: FormDataEntryValue[] = [];
    for (const entry of this.#entries) if (entry[0] === key) values.push(entry[1]);
    return values;
  }

  has(name: string): boolean {
    requireArguments("has", arguments.length, 1);
    const key = toUSVString(name);
    return this.#entries.some((entry) => entry[0] === key);
  }

  /** Replaces the first entry named `name` and removes the others, or appends. */
  set(name: string, value: string | Blob, filename?: string): void {
    requireArguments("set", arguments.length, 2);
    const entry = makeEntry("set", name, value, filename, arguments.length);
    const index = this.#entries.findIndex((existing) => existing[0] === entry[0]);
    if (index === -1) {
      this.#entries.push(entry);
      return;
    }
    this.#entries[index] = entry;
    this.#entries = this.#entries.filter((existing, at) => at <= index || existing[0] !== entry[0]);
  }

  forEach(callback: (value: FormDataEntryValue, name: string, form: FormData) => void, thisArg?: unknown): void {
    if (typeof callback !== "function") throw new TypeError("FormData.forEach: the callback must be a function");
    // Live, as WebIDL iterators are: entries added or removed during the loop count.
    for (let i = 0; i < this.#entries.length; i++) {
      const [name, value] = this.#entries[i]!;
      callback.call(thisArg, value, name, this);
    }
  }

  *entries(): IterableIterator<[string, FormDataEntryValue]> {
    for (let i = 0; i < this.#entries.length; i++) {
      const [name, value] = this.#entries[i]!;
      yield [name, value];
    }
  }

  *keys(): IterableIterator<string> {
    for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i]![0];
  }

  *values(): IterableIterator<FormDataEntryValue> {
    for (let i = 0; i < this.#entries.length; i++) yield this.#entries[i]![1];
  }

  [Symbol.iterator](): IterableIterator<[string, FormDataEntryValue]> {
    return this.entries();
  }

  [INSPECT](): string {
    const shown = this.#entries.map(([name, value]) =>
      `${JSON.stringify(name)} => ${typeof value === "string" ? JSON.stringify(value) : `File(${JSON.stringify(value.name)}, ${value.size} bytes)`}`,
    );
    return shown.length === 0 ? "FormData {}" : `FormData { ${shown.join(", ")} }`;
  }

  static {
    formEntries = (form) => form.#entries;
    appendEntry = (form, name, value) => {
      form.#entries.push([name, value]);
    };
  }
}

Object.defineProperty(FormData.prototype, Symbol.toStringTag, { value: "FormData", configurable: true });

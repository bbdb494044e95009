// MIME types, per WHATWG MIME Sniffing (https://mimesniff.spec.whatwg.org/#parsing-a-mime-type)
// and Fetch's "extract a MIME type" from a Content-Type header value: what
// Body.blob() reports as the type and where Body.formData() finds the boundary.

export interface MimeType {
  /** `type/subtype`, lower-cased. */
  essence: string;
  /** Parameter names lower-cased, values as sent (quotes removed); the first of a name wins. */
  parameters: Map<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const QUOTED_STRING_TOKEN = /^[\t\x20-\x7e\x80-\xff]*$/;
const HTTP_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const TRAILING_WHITESPACE = /[\t\n\r ]+$/;

/** Parses `text`, or returns null when it is not a MIME type. */
export function parseMimeType(text: string): MimeType | null {
  const input = text.replace(HTTP_WHITESPACE, "");
  const slash = input.indexOf("/");
  if (slash <= 0) return null;
  const type = input.slice(0, slash);
  let semicolon = input.indexOf(";", slash + 1);
  if (semicolon === -1) semicolon = input.length;
  const subtype = input.slice(slash + 1, semicolon).replace(TRAILING_WHITESPACE, "");
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return null;
  const mime: MimeType = { essence: `${type}/${subtype}`.toLowerCase(), parameters: new Map() };

  let position = semicolon;
  while (position < input.length) {
    position++; // past ";"
    while (position < input.length && " \t\n\r".includes(input[position]!)) position++;
    let end = position;
    while (end < input.length && input[end] !== ";" && input[end] !== "=") end++;
    const name = input.slice(position, end).toLowerCase();
    position = end;
    if (position >= input.length) break;
    if (input[position] === ";") continue;
    position++; // past "="
    if (position >= input.length) break;
    let value: string;
    if (input[position] === '"') {
      [value, position] = quotedString(input, position);
      while (position < input.length && input[position] !== ";") position++;
    } else {
      end = input.indexOf(";", position);
      if (end === -1) end = input.length;
      value = input.slice(position, end).replace(TRAILING_WHITESPACE, "");
      position = end;
      if (value === "") continue;
    }
    if (name !== "" && TOKEN.test(name) && QUOTED_STRING_TOKEN.test(value) && !mime.parameters.has(name)) {
      mime.parameters.set(name, value);
    }
  }
  return mime;
}

/** Fetch's "collect an HTTP quoted string" with the value extracted: [value, position after it]. */
function quotedString(input: string, start: number): [string, number] {
  let value = "";
  let position = start + 1;
  while (position < input.length) {
    const char = input[position]!;
    position++;
    if (char === '"') break;
    if (char === "\\") {
      if (position >= input.length) {
        value += "\\";
        break;
      }
      value += input[position]!;
      position++;
    } else value += char;
  }
  return [value, position];
}

export function serializeMimeType(mime: MimeType): string {
  let out = mime.essence;
  for (const [name, value] of mime.parameters) {
    out += `;${name}=${value !== "" && TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, "\\$&")}"`}`;
  }
  return out;
}

/** Fetch's "extract a MIME type" from a (combined) Content-Type value; null for none or failure. */
export function extractMimeType(headerValue: string | null): MimeType | null {
  if (headerValue === null) return null;
  let charset: string | null = null;
  let essence: string | null = null;
  let mime: MimeType | null = null;
  for (const value of splitHeaderValue(headerValue)) {
    const parsed = parseMimeType(value);
    if (parsed === null || parsed.essence === "*/*") continue;
    mime = parsed;
    if (mime.essence !== essence) {
      charset = mime.parameters.get("charset") ?? null;
      essence = mime.essence;
    } else if (!mime.parameters.has("charset") && charset !== null) {
      mime.parameters.set("charset", charset);
    }
  }
  return mime;
}

/** Fetch's "get, decode, and split": commas outside quoted strings separate values. */
function splitHeaderValue(input: string): string[] {
  const values: string[] = [];
  let value = "";
  let position = 0;
  while (position < input.length) {
    const char = input[position]!;
    if (char === '"') {
      const [, end] = quotedString(input, position);
      value += input.slice(position, end);
      position = end;
    } else if (char === ",") {
      values.push(value.replace(/^[\t ]+|[\t ]+$/g, ""));
      value = "";
      position++;
    } else {
      value += char;
      position++;
    }
  }
  values.push(value.replace(/^[\t ]+|[\t ]+$/g, ""));
  return values;
}

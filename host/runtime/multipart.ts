// Form bodies: FormData to multipart/form-data (HTML's "multipart/form-data
// encoding algorithm", escaping names as browsers do), and back from
// multipart/form-data (RFC 7578, https://andreubotella.github.io/multipart-form-data/)
// or application/x-www-form-urlencoded, for Body.formData().
import { type Blob, blobFromParts, blobParts, fileFromParts, normalizeType } from "./blob.js";
import { crypto } from "./crypto.js";
import { utf8DecodeWithoutBOM, utf8Encode } from "./encoding.js";
import { FormData, appendEntry, formEntries } from "./form-data.js";
import { type MimeType, extractMimeType } from "./mime-type.js";
import { URLSearchParams } from "./url.js";

// Taken at boot: user code may replace crypto.getRandomValues later.
const getRandomValues = crypto.getRandomValues.bind(crypto);
const BOUNDARY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BOUNDARY_RANDOM_CHARS = 24;
/** RFC 2046: a boundary has 1 to 70 characters. */
const MAX_BOUNDARY_LENGTH = 70;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;

// ---- serializing -------------------------------------------------------------

function randomBoundary(): string {
  const random = getRandomValues(new Uint8Array(BOUNDARY_RANDOM_CHARS));
  let boundary = "----AtollFormBoundary";
  for (const byte of random) boundary += BOUNDARY_ALPHABET[byte % BOUNDARY_ALPHABET.length];
  return boundary;
}

/** Every lone CR or LF becomes CRLF. */
function toCRLF(text: string): string {
  return text.replace(/\r\n|\r|\n/g, "\r\n");
}

/** Names and filenames inside the quoted Content-Disposition parameters. */
function escapeQuoted(text: string): string {
  return text.replace(/[\n\r"]/g, (char) => (char === "\n" ? "%0A" : char === "\r" ? "%0D" : "%22"));
}

/**
 * The multipart/form-data body of `form`, as a Blob made of the header text
 * and the Files' own byte arrays: no file content is copied.
 */
export function serializeFormData(form: FormData): { body: Blob; contentType: string } {
  const boundary = randomBoundary();
  const parts: Uint8Array[] = [];
  let text = "";
  for (const [name, value] of formEntries(form)) {
    text += `--${boundary}\r\nContent-Disposition: form-data; name="${escapeQuoted(toCRLF(name))}"`;
    if (typeof value === "string") {
      text += `\r\n\r\n${toCRLF(value)}\r\n`;
      continue;
    }
    text += `; filename="${escapeQuoted(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
    parts.push(utf8Encode(text));
    for (const part of blobParts(value)) parts.push(part);
    text = "\r\n";
  }
  text += `--${boundary}--\r\n`;
  parts.push(utf8Encode(text));
  return { body: blobFromParts(parts, ""), contentType: `multipart/form-data; boundary=${boundary}` };
}

// ---- parsing -----------------------------------------------------------------

function formError(detail: string): TypeError {
  return new TypeError(`the body is not valid multipart/form-data: ${detail}`);
}

function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/**
 * The first index of `delimiter` in `body` at or after `from`, or -1. Linear:
 * the delimiter starts with CR and holds no other CR, so after a partial match
 * of k bytes at i, no match can start before i + k.
 */
function indexOfDelimiter(body: Uint8Array, delimiter: Uint8Array, from: number): number {
  const last = body.length - delimiter.length;
  let i = from;
  while (i <= last) {
    i = body.indexOf(CR, i);
    if (i === -1 || i > last) return -1;
    let matched = 1;
    while (matched < delimiter.length && body[i + matched] === delimiter[matched]) matched++;
    if (matched === delimiter.length) return i;
    i += matched;
  }
  return -1;
}

interface PartHeaders {
  name: string | null;
  filename: string | null;
  contentType: string | null;
}

/** A Content-Disposition parameter value: quoted (with browsers' %0A %0D %22 escapes) or a token. */
function dispositionParameters(value: string): Map<string, string> {
  const parameters = new Map<string, string>();
  let position = value.indexOf(";");
  if (position === -1) return parameters;
  while (position < value.length) {
    position++; // past ";"
    while (value[position] === " " || value[position] === "\t") position++;
    const equals = value.indexOf("=", position);
    if (equals === -1) break;
    const name = value.slice(position, equals).trim().toLowerCase();
    position = equals + 1;
    while (value[position] === " " || value[position] === "\t") position++;
    let parameter: string;
    if (value[position] === '"') {
      const close = value.indexOf('"', position + 1);
      if (close === -1) throw formError(`a quoted Content-Disposition parameter is not closed: ${value}`);
      parameter = value.slice(position + 1, close).replace(/%0A|%0D|%22/gi, (escape) => {
        const code = escape.toUpperCase();
        return code === "%0A" ? "\n" : code === "%0D" ? "\r" : '"';
      });
      position = value.indexOf(";", close);
      if (position === -1) position = value.length;
    } else {
      let end = value.indexOf(";", position);
      if (end === -1) end = value.length;
      parameter = value.slice(position, end).trim();
      position = end;
    }
    if (name !== "" && !parameters.has(name)) parameters.set(name, parameter);
  }
  return parameters;
}

/** RFC 5987 `filename*=utf-8''percent-encoded`; null when it is not that. */
function extendedValue(value: string): string | null {
  const match = /^utf-8'[^']*'(.*)$/i.exec(value);
  if (match === null) return null;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return null;
  }
}

/** Reads header lines from `position` up to the empty line; returns the headers and where the content starts. */
function readPartHeaders(body: Uint8Array, position: number): [PartHeaders, number] {
  const headers: PartHeaders = { name: null, filename: null, contentType: null };
  let disposition = false;
  for (;;) {
    const end = body.indexOf(CR, position);
    if (end === -1 || body[end + 1] !== LF) throw formError("a part's headers do not end with an empty line");
    if (end === position) {
      if (!disposition || headers.name === null) throw formError("a part has no Content-Disposition header with a name");
      return [headers, end + 2];
    }
    const line = utf8DecodeWithoutBOM(body.subarray(position, end));
    position = end + 2;
    const colon = line.indexOf(":");
    const headerName = colon === -1 ? "" : line.slice(0, colon).trim();
    if (!TOKEN.test(headerName)) throw formError(`a part has a malformed header line: ${JSON.stringify(line.slice(0, 100))}`);
    const value = line.slice(colon + 1).trim();
    switch (headerName.toLowerCase()) {
      case "content-disposition": {
        const type = value.split(";", 1)[0]!.trim().toLowerCase();
        if (type !== "form-data") throw formError(`a part's Content-Disposition is "${type}", not "form-data"`);
        const parameters = dispositionParameters(value);
        disposition = true;
        headers.name = parameters.get("name") ?? null;
        const extended = parameters.has("filename*") ? extendedValue(parameters.get("filename*")!) : null;
        headers.filename = extended ?? parameters.get("filename") ?? null;
        break;
      }
      case "content-type":
        // Not ASCII: no type, as the spec says.
        headers.contentType = /^[\x00-\x7f]*$/.test(value) ? value : "";
        break;
    }
  }
}

/** Parses a multipart/form-data body with `boundary`; a TypeError when malformed. */
export function parseMultipart(body: Uint8Array, boundary: string): FormData {
  if (boundary.length === 0 || boundary.length > MAX_BOUNDARY_LENGTH || /[\r\n]/.test(boundary)) {
    throw formError(`the boundary must have 1 to ${MAX_BOUNDARY_LENGTH} characters and no line breaks`);
  }
  // "\r\n--boundary": every delimiter but a first one at the very start of the body.
  const delimiter = latin1Bytes(`\r\n--${boundary}`);
  const dashBoundary = delimiter.subarray(2);
  let position: number;
  if (startsWith(body, dashBoundary, 0)) position = dashBoundary.length;
  else {
    const first = indexOfDelimiter(body, delimiter, 0);
    if (first === -1) throw formError(`the boundary "${boundary}" of the Content-Type does not occur in the body`);
    position = first + delimiter.length;
  }

  const form = new FormData();
  const lastModified = Date.now();
  for (;;) {
    // After a delimiter: "--" closes the body (the epilogue is ignored), else padding and CRLF start a part.
    if (body[position] === DASH && body[position + 1] === DASH) return form;
    while (body[position] === 0x20 || body[position] === 0x09) position++;
    if (body[position] !== CR || body[position + 1] !== LF) {
      throw formError(position >= body.length ? "the body ends without the closing boundary" : "a boundary is not followed by a line break");
    }
    const [headers, contentStart] = readPartHeaders(body, position + 2);
    const contentEnd = indexOfDelimiter(body, delimiter, contentStart);
    if (contentEnd === -1) throw formError("the body ends without the closing boundary");
    const content = body.subarray(contentStart, contentEnd);
    position = contentEnd + delimiter.length;

    if (headers.filename === null) appendEntry(form, headers.name!, utf8DecodeWithoutBOM(content));
    else {
      const type = normalizeType(headers.contentType ?? "text/plain");
      appendEntry(form, headers.name!, fileFromParts(content.length > 0 ? [content] : [], headers.filename, type, lastModified));
    }
  }
}

function startsWith(body: Uint8Array, prefix: Uint8Array, at: number): boolean {
  if (body.length - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (body[at + i] !== prefix[i]) return false;
  return true;
}

/** The application/x-www-form-urlencoded parser over bytes. */
export function parseUrlencoded(body: Uint8Array): FormData {
  const text = utf8DecodeWithoutBOM(body);
  // URLSearchParams drops a leading "?", the urlencoded parser does not.
  const params = new URLSearchParams(text.startsWith("?") ? `&${text}` : text);
  const form = new FormData();
  for (const [name, value] of params) appendEntry(form, name, value);
  return form;
}

/** Body.formData(): picks the parser from the Content-Type. */
export function parseFormDataBody(body: Uint8Array, contentType: string | null, what: string): FormData {
  const mime: MimeType | null = extractMimeType(contentType);
  if (mime?.essence === "multipart/form-data") {
    const boundary = mime.parameters.get("boundary");
    if (boundary === undefined) throw new TypeError(`${what}: the multipart/form-data Content-Type has no boundary parameter`);
    try {
      return parseMultipart(body, boundary);
    } catch (error) {
      throw error instanceof TypeError ? new TypeError(`${what}: ${error.message}`) : error;
    }
  }
  if (mime?.essence === "application/x-www-form-urlencoded") return parseUrlencoded(body);
  throw new TypeError(
    `${what}: the Content-Type ${contentType === null ? "is missing" : `"${contentType}" is neither multipart/form-data nor application/x-www-form-urlencoded`}, so the body cannot be read as FormData`,
  );
}

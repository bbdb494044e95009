// HTML for the dashboard's pages, escaped by construction: the `html` tag
// escapes every value it is given (script names, paths, log lines, config
// values, error messages …) unless it is already SafeHtml, made by the tag
// itself. Attribute values are always written in double quotes, and the
// escaping covers quotes, so a value is safe in text and in attributes alike.

/** Markup that is safe to send as it is: made by `html` (its values escaped) or from the dashboard's own constants. */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (char) => ENTITIES[char]!);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof SafeHtml) return value.text;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

/** A template of markup: `html\`<td>${record.path}</td>\`` escapes the path. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** The dashboard's own constant markup, CSS or script (never anything a user gave). */
export function trusted(text: string): SafeHtml {
  return new SafeHtml(text);
}

/** A dashboard path with a query: `/dashboard/search?script=a&status=5xx` (empty values left out). */
export function dashboardPath(path: string, query: Record<string, string | number | undefined | null> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  const text = params.toString();
  return `/dashboard${path}${text === "" ? "" : `?${text}`}`;
}

/** The path of a script's pages: `/dashboard/scripts/<name><rest>` (names are a-z, 0-9 and '-', encoded anyway). */
export function scriptPath(name: string, rest = "", query: Record<string, string | number | undefined | null> = {}): string {
  return dashboardPath(`/scripts/${encodeURIComponent(name)}${rest}`, query);
}

/** A link when `url` is http(s), else the text alone (a config could hold anything). */
export function externalLink(url: string): SafeHtml {
  return /^https?:\/\//i.test(url) ? html`<a href="${url}" rel="noreferrer noopener">${url}</a>` : html`${url}`;
}

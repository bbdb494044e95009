// List cursors of KV namespaces and buckets: where the next page starts,
// tagged with the kind and the namespace or bucket it belongs to, so that a
// cursor from elsewhere (or made up) is refused with a clear error rather
// than silently listing from the wrong place. Not secret: base64url text.

export function encodeCursor(tag: string, owner: string, position: string): string {
  return Buffer.from(`${tag}\0${owner}\0${position}`).toString("base64url");
}

/** The position in `cursor`, or null when it is not one `encodeCursor(tag, owner, …)` made. */
export function decodeCursor(tag: string, owner: string, cursor: unknown): string | null {
  if (typeof cursor !== "string" || cursor.length > 4096 || !/^[\w-]*$/.test(cursor)) return null;
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const head = `${tag}\0${owner}\0`;
  return text.startsWith(head) ? text.slice(head.length) : null;
}

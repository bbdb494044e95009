// Packs tr46's UTS #46 mapping table (lib/mappingTable.json, 143 KB of JSON
// that V8 turns into ~1.2 MB of arrays) into a short ASCII string the runtime
// bundles in its place. Decoded on tr46's first use into typed arrays (~100 KB
// of heap) behind an array-like view: tr46 only reads `length` and `[i]`.
//
// Entries are [codePoint | [first, last], status, mapping?], sorted and
// contiguous from U+0000 to U+10FFFF. Each is written as varints:
//   kind = status + 8 × (0 without a mapping, else 1 + its code point count),
//   last − first,
//   then each mapping code point as a zigzag delta from the previous one
//   (the first from `first`).

const TERMINAL = "0123456789abcdefghijklmnopqrstuv";
const CONTINUATION = "wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";

function varint(value) {
  let out = "";
  while (value >= 32) {
    out += CONTINUATION[value & 31];
    value = Math.floor(value / 32);
  }
  return out + TERMINAL[value];
}

const zigzag = (value) => (value < 0 ? -2 * value - 1 : 2 * value);

/** The packed string for the parsed mapping table. */
export function packMappingTable(table) {
  let packed = "";
  let next = 0;
  for (const entry of table) {
    const [first, last] = Array.isArray(entry[0]) ? entry[0] : [entry[0], entry[0]];
    const status = entry[1];
    if (first !== next || last < first) throw new Error(`tr46 table: entry at U+${first.toString(16)} is not contiguous`);
    if (!Number.isInteger(status) || status < 0 || status > 7) throw new Error(`tr46 table: unknown status ${status}`);
    if (entry.length > 3) throw new Error("tr46 table: an entry has more than a mapping");
    const mapping = entry.length > 2 ? Array.from(entry[2], (char) => char.codePointAt(0)) : null;
    packed += varint(status + 8 * (mapping === null ? 0 : 1 + mapping.length)) + varint(last - first);
    let previous = first;
    for (const point of mapping ?? []) {
      packed += varint(zigzag(point - previous));
      previous = point;
    }
    next = last + 1;
  }
  if (next !== 0x110000) throw new Error("tr46 table: does not end at U+10FFFF");
  return packed;
}

/** Decodes a packed table; its source is bundled, so it uses nothing from outside. */
function unpackMappingTable(packed) {
  let at = 0;
  const read = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const char = packed.charCodeAt(at++);
      // "0"-"9" and "a"-"v" end a varint; every other character continues it.
      const terminal = char >= 48 && char <= 57 ? char - 48 : char >= 97 && char <= 118 ? char - 87 : -1;
      if (terminal >= 0) return value + terminal * scale;
      value += "wxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_".indexOf(packed[at - 1]) * scale;
      scale *= 32;
    }
  };
  const kinds = [];
  const firsts = [0];
  const mappingStarts = [0];
  const points = [];
  let first = 0;
  while (at < packed.length) {
    const kind = read();
    first += read() + 1;
    kinds.push(kind);
    firsts.push(first);
    const count = kind >> 3;
    let previous = firsts[firsts.length - 2];
    for (let i = 1; i < count; i++) {
      const delta = read();
      previous += delta & 1 ? -(delta + 1) / 2 : delta / 2;
      points.push(previous);
    }
    mappingStarts.push(points.length);
  }
  const kind = Uint8Array.from(kinds);
  const start = Uint32Array.from(firsts);
  const mappingStart = Uint32Array.from(mappingStarts);
  const point = Uint32Array.from(points);
  const entry = (i) => {
    const low = start[i];
    const high = start[i + 1] - 1;
    const result = [low === high ? low : [low, high], kind[i] & 7];
    if (kind[i] >> 3) result.push(String.fromCodePoint(...point.subarray(mappingStart[i], mappingStart[i + 1])));
    return result;
  };
  return new Proxy([], {
    get(target, key) {
      if (key === "length") return kind.length;
      if (typeof key === "string" && /^(?:0|[1-9]\d*)$/.test(key) && Number(key) < kind.length) return entry(Number(key));
      return undefined;
    },
  });
}

/** The CommonJS module that replaces lib/mappingTable.json in the bundle. */
export function mappingTableModule(json) {
  const packed = packMappingTable(JSON.parse(json));
  return `module.exports = (${unpackMappingTable.toString()})(${JSON.stringify(packed)});\n`;
}

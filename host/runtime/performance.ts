// A minimal `performance` (High Resolution Time, https://w3c.github.io/hr-time/):
// now() and timeOrigin, with the millisecond resolution of Date.now().
const timeOrigin = Date.now();

let constructing = false;

/** The interface of `performance`; `new Performance()` is illegal, as in browsers. */
export class Performance {
  constructor() {
    if (!constructing) throw new TypeError("Illegal constructor: use the global performance");
  }

  get timeOrigin(): number {
    return timeOrigin;
  }
  now(): number {
    return Date.now() - timeOrigin;
  }
  toJSON(): { timeOrigin: number } {
    return { timeOrigin };
  }
}

Object.defineProperty(Performance.prototype, Symbol.toStringTag, { value: "Performance", configurable: true });

constructing = true;
export const performance = new Performance();
constructing = false;

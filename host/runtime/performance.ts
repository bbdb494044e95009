// A minimal `performance` (High Resolution Time, https://w3c.github.io/hr-time/):
// now() and timeOrigin, with the millisecond resolution of Date.now().
const timeOrigin = Date.now();

class Performance {
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

export const performance = new Performance();

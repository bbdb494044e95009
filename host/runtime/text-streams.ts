// TextEncoderStream and TextDecoderStream, per the Encoding Standard
// (https://encoding.spec.whatwg.org/#interface-textencoderstream), as TransformStreams.
import { TextDecoder, type TextDecoderOptions, utf8Encode } from "./encoding.js";
import { TransformStream } from "./streams.js";

export class TextEncoderStream extends TransformStream<string, Uint8Array> {
  constructor() {
    // A high surrogate at the end of a chunk waits for the next one.
    let pendingHigh = "";
    super({
      transform(chunk, controller) {
        let text = pendingHigh + String(chunk);
        pendingHigh = "";
        const last = text.charCodeAt(text.length - 1);
        if (last >= 0xd800 && last <= 0xdbff) {
          pendingHigh = text.slice(-1);
          text = text.slice(0, -1);
        }
        if (text.length > 0) controller.enqueue(utf8Encode(text));
      },
      flush(controller) {
        if (pendingHigh !== "") controller.enqueue(utf8Encode(pendingHigh));
      },
    });
  }

  get encoding(): string {
    return "utf-8";
  }
}

export class TextDecoderStream extends TransformStream<ArrayBufferView | ArrayBuffer, string> {
  #decoder: TextDecoder;

  constructor(label = "utf-8", options: TextDecoderOptions = {}) {
    const decoder = new TextDecoder(label, options);
    super({
      transform(chunk, controller) {
        const text = decoder.decode(chunk, { stream: true });
        if (text !== "") controller.enqueue(text);
      },
      flush(controller) {
        const text = decoder.decode();
        if (text !== "") controller.enqueue(text);
      },
    });
    this.#decoder = decoder;
  }

  get encoding(): string {
    return this.#decoder.encoding;
  }
  get fatal(): boolean {
    return this.#decoder.fatal;
  }
  get ignoreBOM(): boolean {
    return this.#decoder.ignoreBOM;
  }
}

// What of a function's console output may reach the operator's terminal. A
// function's text is untrusted: escape sequences other than colours could
// move the cursor, clear the screen, set the window title or write to the
// clipboard (OSC 52) of whoever watches the host's log. Colours (SGR, as
// `chalk` and most loggers write them) are kept when the log goes to a
// terminal and dropped when it does not (a file, a pipe, journald), as Node
// itself does; every other control sequence and control character is
// dropped, except tab and newline.

/** CSI … final byte, OSC … BEL or ST, any other ESC and the byte after it (ESC c resets the terminal, ESC 7 saves the cursor …). */
const ESCAPE_SEQUENCE = /\x1b\[[0-?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?/g;
/** An SGR (colour and style) sequence: CSI parameters "m". */
const SGR = /^\x1b\[[0-9;:]*m$/;
/** C0 controls but tab and newline, DEL, and the C1 controls a terminal may act on. */
const CONTROL = /[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f\x80-\x9f]/g;

/** `text` with colours kept (`keepColour`) or dropped, and every other escape sequence and control character dropped. */
export function terminalSafe(text: string, keepColour: boolean): string {
  if (!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(text)) return text;
  return text.replace(ESCAPE_SEQUENCE, (sequence) => (keepColour && SGR.test(sequence) ? sequence : "")).replace(CONTROL, "");
}

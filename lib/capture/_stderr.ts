/**
 * Keeps the last lines of a child process's stderr, bounded in lines and in
 * line length, and boils them down to one line for an error message.
 *
 * @module
 */

const MAX_LINE_CHARS = 300;

/** The last `maxLines` lines of a text stream fed in byte chunks. */
export class StderrTail {
  #decoder = new TextDecoder();
  #maxLines: number;
  #lines: string[] = [];
  #partial = "";

  constructor(maxLines = 16) {
    this.#maxLines = maxLines;
  }

  /** Adds bytes; complete lines enter the ring. */
  push(chunk: Uint8Array): void {
    const text = this.#partial + this.#decoder.decode(chunk, { stream: true });
    const parts = text.split(/\r\n|\r|\n/);
    const last = parts.pop() ?? "";
    for (const line of parts) this.#add(line);
    // A line without an end is still bounded.
    this.#partial = last.slice(-MAX_LINE_CHARS);
  }

  /** The kept lines, oldest first, including an unfinished last line. */
  lines(): string[] {
    const partial = this.#partial + this.#decoder.decode();
    return partial.trim() === "" ? [...this.#lines] : [...this.#lines, partial];
  }

  #add(line: string): void {
    if (line.trim() === "") return;
    this.#lines.push(
      line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line,
    );
    if (this.#lines.length > this.#maxLines) this.#lines.shift();
  }
}

/** Drops ffmpeg's `[v4l2 @ 0x55d1…] ` context and an `input: ` prefix. */
function stripPrefix(line: string, input: string): string {
  let text = line.replace(/^\[[^\]]*@ 0x[0-9a-f]+\]\s*/i, "").trim();
  if (input !== "" && text.startsWith(`${input}: `)) {
    text = text.slice(input.length + 2);
  }
  return text;
}

/**
 * One line that says what ffmpeg complained about: its last line, preceded by
 * its first line when that says something the last does not (ffmpeg often
 * ends with a bare `input: Invalid argument`).
 */
export function stderrGist(lines: readonly string[], input: string): string {
  const last = lines.at(-1);
  if (last === undefined) return "no error message";
  const gist = stripPrefix(last, input);
  const first = stripPrefix(lines[0]!, input);
  if (lines.length === 1 || first.includes(gist)) return gist || first;
  return `${first}: ${gist}`;
}

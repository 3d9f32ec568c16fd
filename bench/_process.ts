/**
 * Child processes for the benchmark: read their output line by line with the
 * time each line arrived, wait for a line, read their peak memory, stop them.
 *
 * @module
 */

/** A line of output and when it arrived, in `performance.now()` milliseconds. */
export interface TimedLine {
  /** The line, without its newline. */
  readonly text: string;
  /** When it was read. */
  readonly atMs: number;
}

/** Options for {@linkcode Peer}. */
export interface PeerOptions {
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Called for each stdout line as it arrives. */
  onLine?: (line: TimedLine) => void;
}

/** Thrown when a peer cannot be started or does not do what was expected. */
export class PeerError extends Error {
  /**
   * @param message What was wrong.
   * @param options An optional cause.
   */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "PeerError";
  }
}

/**
 * A running child process whose stdout and stderr are collected as lines.
 *
 * @example Waiting for a line
 * ```ts
 * import { Peer } from "./_process.ts";
 * const peer = new Peer("sh", ["-c", "echo ready; exec sleep 5"]);
 * await peer.waitFor(/^ready/, 5000);
 * await peer.stop();
 * ```
 */
export class Peer {
  /** The process id. */
  readonly pid: number;
  /** The command, for messages. */
  readonly label: string;
  readonly #child: Deno.ChildProcess;
  readonly #lines: TimedLine[] = [];
  readonly #stderr: string[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #done: Promise<void>;
  #status: Deno.CommandStatus | undefined;

  /**
   * Starts `command` with `args`.
   *
   * @param command The program.
   * @param args Its arguments.
   * @param options Working directory, environment and a line callback.
   */
  constructor(command: string, args: string[], options: PeerOptions = {}) {
    this.label = [command, ...args].join(" ");
    try {
      this.#child = new Deno.Command(command, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        ...(options.env === undefined ? {} : { env: options.env }),
      }).spawn();
    } catch (error) {
      throw new PeerError(`Cannot start ${command}: ${String(error)}`, {
        cause: error,
      });
    }
    this.pid = this.#child.pid;
    const onLine = options.onLine;
    this.#done = Promise.all([
      readLines(this.#child.stdout, (text) => {
        const line = { text, atMs: performance.now() };
        this.#lines.push(line);
        onLine?.(line);
        for (const wake of this.#waiters) wake();
      }),
      readLines(this.#child.stderr, (text) => {
        this.#stderr.push(text);
      }),
      this.#child.status.then((status) => {
        this.#status = status;
        for (const wake of this.#waiters) wake();
      }),
    ]).then(() => {});
  }

  /** Stdout lines so far. */
  get lines(): readonly TimedLine[] {
    return this.#lines;
  }

  /** The last few stderr lines, for error messages. */
  stderrTail(n = 3): string {
    return this.#stderr.slice(-n).join(" | ");
  }

  /** The exit status once the process has ended. */
  get status(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  /**
   * Resolves with the first stdout line matching `pattern`; rejects with a
   * {@linkcode PeerError} if the process exits first or `timeoutMs` passes.
   */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      let scanned = 0;
      const check = () => {
        for (; scanned < this.#lines.length; scanned++) {
          const match = this.#lines[scanned]?.text.match(pattern);
          if (match) return finish(() => resolve(match));
        }
        if (this.#status !== undefined) {
          finish(() =>
            reject(
              new PeerError(
                `${this.label} exited with ${this.#status?.code} before printing ${pattern}: ${this.stderrTail()}`,
              ),
            )
          );
        }
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new PeerError(
                `${this.label} printed no ${pattern} within ${timeoutMs} ms: ${this.stderrTail()}`,
              ),
            )
          ),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        settle();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolves once the process exits, or kills it after `timeoutMs`. */
  async wait(timeoutMs: number): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeoutMs);
    });
    const outcome = await Promise.race([this.#done, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      await this.stop();
      throw new PeerError(
        `${this.label} did not finish within ${timeoutMs} ms: ${this.stderrTail()}`,
      );
    }
    return this.#status as Deno.CommandStatus;
  }

  /**
   * The peak resident memory (VmHWM) in bytes while the process runs, or
   * `undefined` when it has ended or /proc is missing. Read through `cat`
   * because Deno lets only `--allow-all` read other processes' /proc files.
   */
  async peakRssBytes(): Promise<number | undefined> {
    const status = await commandOutput("cat", [`/proc/${this.pid}/status`]);
    const match = status?.match(/^VmHWM:\s+(\d+)\s+kB/m);
    return match ? Number(match[1]) * 1024 : undefined;
  }

  /** Sends `signal` if still running and waits for the process and its output to end. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    if (this.#status === undefined) {
      try {
        this.#child.kill(signal);
      } catch {
        // it ended between the check and the kill
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), 3000);
    });
    if (await Promise.race([this.#done, late]) === "late") {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // already gone
      }
      // A grandchild may still hold the pipes open; do not wait for it.
      await this.#child.status;
    }
    clearTimeout(timer);
  }
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const part of parts) onLine(part.replace(/\r$/, ""));
  }
  if (rest !== "") onLine(rest);
}

/**
 * Parses `key=value` pairs from a summary line such as
 * `frames=100 seconds=1.2 fps=83.3`.
 */
export function parseSummary(line: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const match of line.matchAll(/(\w+)=(-?[\d.]+)/g)) {
    out[match[1] as string] = Number(match[2]);
  }
  return out;
}

/** The last stdout line of `peer` that contains `key=`, parsed. */
export function lastSummary(
  peer: Peer,
  key: string,
): Record<string, number> | undefined {
  for (let i = peer.lines.length - 1; i >= 0; i--) {
    const text = peer.lines[i]?.text ?? "";
    if (new RegExp(`(^|\\s)${key}=`).test(text)) return parseSummary(text);
  }
  return undefined;
}

/** A UDP port that was free a moment ago on 127.0.0.1. */
export function freeUdpPort(): number {
  const socket = Deno.listenDatagram({
    hostname: "127.0.0.1",
    port: 0,
    transport: "udp",
  });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

/** Whether `command args` runs and exits with success. */
export async function commandWorks(
  command: string,
  args: string[],
): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, {
      args,
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** The stdout of `command args`, trimmed, or `undefined` if it fails. */
export async function commandOutput(
  command: string,
  args: string[],
): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "null",
    }).output();
    return success ? new TextDecoder().decode(stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

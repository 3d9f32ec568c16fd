/**
 * Child processes for end-to-end tests: spawn a script or a Python peer, wait
 * for a line it prints, and collect the rest.
 *
 * @module
 */

const decoder = new TextDecoder();

/** A running child with its output read line by line. */
export class Child implements AsyncDisposable {
  readonly process: Deno.ChildProcess;
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly #waiters: {
    pattern: RegExp;
    resolve: (m: RegExpExecArray) => void;
  }[] = [];
  readonly #done: Promise<[void, void]>;

  /**
   * With `rawStdout`, stdout is left unread for the test (`process.stdout`),
   * and only stderr is read as lines. `env` adds to the environment.
   */
  constructor(
    command: string,
    args: string[],
    options: {
      cwd?: string;
      rawStdout?: boolean;
      env?: Record<string, string>;
    } = {},
  ) {
    this.process = new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...(options.cwd ? { cwd: options.cwd } : {}),
      ...(options.env ? { env: options.env } : {}),
    }).spawn();
    this.#done = Promise.all([
      options.rawStdout
        ? Promise.resolve()
        : this.#read(this.process.stdout, this.stdout),
      this.#read(this.process.stderr, this.stderr),
    ]);
  }

  async #read(
    stream: ReadableStream<Uint8Array>,
    lines: string[],
  ): Promise<void> {
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      let newline;
      while ((newline = rest.indexOf("\n")) >= 0) {
        const line = rest.slice(0, newline);
        rest = rest.slice(newline + 1);
        lines.push(line);
        this.#match(line);
      }
    }
    if (rest) {
      lines.push(rest);
      this.#match(rest);
    }
  }

  #match(line: string): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      const match = waiter.pattern.exec(line);
      if (match) {
        this.#waiters.splice(i, 1);
        waiter.resolve(match);
      }
    }
  }

  /** Resolves with the first line, past or future, on stdout or stderr, that matches. */
  waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    for (const line of [...this.stdout, ...this.stderr]) {
      const match = pattern.exec(line);
      if (match) return Promise.resolve(match);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      new Promise<RegExpExecArray>((resolve) =>
        this.#waiters.push({ pattern, resolve })
      ),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `Timed out waiting for ${pattern}; stdout: ${
                  this.stdout.join("\n")
                }; stderr: ${this.stderr.join("\n")}`,
              ),
            ),
          timeoutMs,
        );
      }),
      this.status.then(() => {
        throw new Error(
          `Exited before printing ${pattern}; stdout: ${
            this.stdout.join("\n")
          }; stderr: ${this.stderr.join("\n")}`,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** The exit status, once all output is read. */
  get status(): Promise<Deno.CommandStatus> {
    return this.#done.then(() => this.process.status);
  }

  /** Waits for exit, with a bound; kills the child if it overstays. */
  async exit(timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) =>
      timer = setTimeout(resolve, timeoutMs)
    );
    const status = await Promise.race([this.status, timeout]);
    clearTimeout(timer);
    if (status) return status;
    this.kill("SIGKILL");
    throw new Error(
      `Child did not exit in ${timeoutMs} ms; stdout: ${
        this.stdout.join("\n")
      }`,
    );
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.process.kill(signal);
    } catch {
      // already gone
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.status;
  }
}

const ROOT = new URL("../", import.meta.url).pathname;

/** Runs one of the project's scripts with `deno run -P`. */
export function script(
  name: string,
  args: string[],
  options: { rawStdout?: boolean } = {},
): Child {
  return new Child(Deno.execPath(), [
    "run",
    "-P",
    "--quiet",
    `${ROOT}${name}`,
    ...args,
  ], {
    cwd: ROOT,
    ...options,
  });
}

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
export async function withTempDir(
  prefix: string,
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs one of the Python peers in tests/peers with the system Python and OpenCV. */
export function python(name: string, args: string[]): Child {
  return new Child("/usr/bin/python3", [
    "-u",
    `${ROOT}tests/peers/${name}`,
    ...args,
  ]);
}

/** The project's root folder, ending in a slash. */
export const root: string = ROOT;

/** A fixture's bytes. */
export function fixture(name: string): Uint8Array {
  return Deno.readFileSync(`${ROOT}tests/fixtures/${name}`);
}

/** Starts server.ts on free ports and waits until it is ready. */
export async function startServer(args: string[] = []): Promise<{
  server: Child;
  port: number;
  msgPort: number;
}> {
  const server = script("server.ts", [
    "--port",
    "0",
    "--msg-port",
    "0",
    ...args,
  ]);
  const ready = await server.waitFor(
    /^ready image=[\d.]+:(\d+) msg=[\d.]+:(\d+)$/,
  );
  return { server, port: Number(ready[1]), msgPort: Number(ready[2]) };
}

/** Runs a script to its end and returns its status and output. */
export async function runScript(
  name: string,
  args: string[],
  timeoutMs?: number,
): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  await using child = script(name, args);
  const status = await child.exit(timeoutMs);
  return { code: status.code, stdout: child.stdout, stderr: child.stderr };
}

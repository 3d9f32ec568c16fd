/**
 * A headless Chromium driven over the DevTools protocol, for the viewer's
 * browser tests.
 *
 * playwright-core cannot load under `deno test -P`: at import it reads
 * /proc/sys/fs/binfmt_misc/WSLInterop, which Deno grants only with
 * --allow-all. So the tests drive Chromium through the DevTools protocol
 * over a WebSocket, which is all they need.
 *
 * @module
 */
import assert from "node:assert/strict";
import { within } from "./_within.ts";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--no-default-browser-check",
  "--remote-debugging-port=0",
];
/** How long one step of a browser test may take. */
export const STEP_MS = 15_000;

/** The parameters or result of a DevTools message. */
export type Params = Record<string, unknown>;
interface CdpMessage {
  id?: number;
  method?: string;
  params?: Params;
  result?: Params;
  error?: { message: string };
  sessionId?: string;
}

/** A headless Chromium and one page, driven over the DevTools protocol. */
export class Browser {
  #child: Deno.ChildProcess;
  #stderr: Promise<void>;
  #socket: WebSocket;
  #profile: string;
  #nextId = 1;
  #pending = new Map<
    number,
    { resolve: (value: Params) => void; reject: (error: Error) => void }
  >();
  #session = "";
  #size = { width: 1280, height: 800 };
  #listeners = new Map<string, ((params: Params) => void)[]>();
  /** Console errors, exceptions and error log entries of the page. */
  readonly errors: string[] = [];

  private constructor(
    child: Deno.ChildProcess,
    stderr: Promise<void>,
    socket: WebSocket,
    profile: string,
  ) {
    this.#child = child;
    this.#stderr = stderr;
    this.#socket = socket;
    this.#profile = profile;
    socket.onmessage = (event) => this.#receive(JSON.parse(event.data));
  }

  /** Starts Chromium with a fresh profile and opens one page. */
  static async launch(): Promise<Browser> {
    const profile = await Deno.makeTempDir({ prefix: "udpimg_chromium_" });
    const child = new Deno.Command("/usr/bin/chromium", {
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`, "about:blank"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    // Chromium prints the DevTools address on stderr; keep draining it so
    // that a full pipe never blocks the browser.
    let found: (url: string) => void = () => {};
    const address = new Promise<string>((resolve) => found = resolve);
    const stderr = (async () => {
      let text = "";
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        if (text.length < 100_000) text += chunk;
        const match = text.match(/DevTools listening on (ws:\/\/\S+)/);
        if (match) found(match[1]!);
      }
    })();
    try {
      const url = await within(STEP_MS, address, "Chromium to start");
      const socket = new WebSocket(url);
      await within(
        STEP_MS,
        new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = () =>
            reject(new Error("Cannot open DevTools socket"));
        }),
        "DevTools socket",
      );
      const browser = new Browser(child, stderr, socket, profile);
      await browser.#openPage();
      return browser;
    } catch (error) {
      child.kill();
      await child.status;
      await stderr;
      await Deno.remove(profile, { recursive: true });
      throw error;
    }
  }

  async #openPage(): Promise<void> {
    const { targetId } = await this.send("Target.createTarget", {
      url: "about:blank",
    }, "");
    const { sessionId } = await this.send("Target.attachToTarget", {
      targetId,
      flatten: true,
    }, "");
    this.#session = String(sessionId);
    await this.send("Runtime.enable");
    await this.send("Log.enable");
    await this.send("Page.enable");
    await this.send("Emulation.setDeviceMetricsOverride", {
      width: 1280,
      height: 800,
      deviceScaleFactor: 1,
      mobile: false,
    });
  }

  #receive(message: CdpMessage): void {
    if (message.id !== undefined) {
      const pending = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      if (message.error) pending?.reject(new Error(message.error.message));
      else pending?.resolve(message.result ?? {});
      return;
    }
    const params = message.params ?? {};
    for (const listener of this.#listeners.get(message.method ?? "") ?? []) {
      listener(params);
    }
    if (message.method === "Runtime.consoleAPICalled") {
      if (params.type === "error" || params.type === "assert") {
        this.errors.push(`console: ${JSON.stringify(params.args)}`);
      }
    } else if (message.method === "Runtime.exceptionThrown") {
      this.errors.push(`exception: ${JSON.stringify(params.exceptionDetails)}`);
    } else if (message.method === "Log.entryAdded") {
      const entry = params.entry as {
        level: string;
        text: string;
        url?: string;
      };
      if (entry.level === "error") {
        this.errors.push(`log: ${entry.text} ${entry.url ?? ""}`);
      }
    }
  }

  /** Sends a DevTools command to the page (or, with `""`, to the browser). */
  send(
    method: string,
    params: Params = {},
    session = this.#session,
  ): Promise<Params> {
    const id = this.#nextId++;
    const message: CdpMessage = { id, method, params };
    if (session) message.sessionId = session;
    const reply = new Promise<Params>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#socket.send(JSON.stringify(message));
    return within(STEP_MS, reply, method);
  }

  /** Opens `url` and waits for the page to load. */
  async navigate(url: string): Promise<void> {
    await this.send("Page.navigate", { url });
    await this.waitFor("document.readyState === 'complete'", "page load");
  }

  /** The value of `expression` in the page, promises awaited. */
  async evaluate<T>(expression: string): Promise<T> {
    const { result, exceptionDetails } = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (exceptionDetails) {
      throw new Error(
        `Cannot evaluate ${expression}: ${JSON.stringify(exceptionDetails)}`,
      );
    }
    return (result as { value: T }).value;
  }

  /** Resolves when `condition` holds in the page; the page checks it each 50 ms. */
  async waitFor(condition: string, what: string): Promise<void> {
    const ok = await this.evaluate<boolean>(`new Promise((resolve) => {
      const start = Date.now();
      (function check() {
        let ok = false;
        try { ok = Boolean(${condition}); } catch {}
        if (ok) resolve(true);
        else if (Date.now() - start > ${STEP_MS - 2000}) resolve(false);
        else setTimeout(check, 50);
      })();
    })`);
    if (ok) return;
    const state = await this.evaluate<string>(`JSON.stringify({
      img: (({ src, hidden, naturalWidth, complete }) => ({ src, hidden, naturalWidth, complete }))(document.getElementById("frame")),
      tiles: [...document.querySelectorAll(".tile")].map((t) => t.dataset.sender + " shown " + t.dataset.shown),
      location: location.href,
      text: document.body.innerText.slice(0, 600),
    })`).catch((error) => String(error));
    assert.fail(
      `Timed out waiting for ${what}: ${condition}\npage: ${state}\nerrors: ${this.errors}`,
    );
  }

  /** Calls `listener` with the parameters of each `method` event. */
  on(method: string, listener: (params: Params) => void): void {
    const listeners = this.#listeners.get(method) ?? [];
    listeners.push(listener);
    this.#listeners.set(method, listeners);
  }

  /** Resizes the page's viewport. */
  async viewport(width: number, height: number): Promise<void> {
    this.#size = { width, height };
    await this.send("Emulation.setDeviceMetricsOverride", {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
    await this.evaluate(
      "new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))",
    );
  }

  async #box(selector: string) {
    const rect = await this.evaluate<
      { x: number; y: number; width: number; height: number } | null
    >(`(() => { const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return null;
      const r = e.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height }; })()`);
    assert.ok(rect, `no element ${selector}`);
    assert.ok(rect.width > 0 && rect.height > 0, `${selector} has no size`);
    return rect;
  }

  /** Clicks the middle of the element that `selector` finds, as a mouse would. */
  async click(selector: string): Promise<void> {
    const box = await this.#box(selector);
    const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    await this.send("Input.dispatchMouseEvent", { type: "mouseMoved", ...at });
    for (const type of ["mousePressed", "mouseReleased"]) {
      await this.send("Input.dispatchMouseEvent", {
        type,
        ...at,
        button: "left",
        buttons: 1,
        clickCount: 1,
      });
    }
  }

  /** Presses and releases a key, such as `Escape`. */
  async press(key: string, keyCode: number): Promise<void> {
    for (const type of ["keyDown", "keyUp"]) {
      await this.send("Input.dispatchKeyEvent", {
        type,
        key,
        code: key,
        windowsVirtualKeyCode: keyCode,
      });
    }
  }

  /** A PNG screenshot of the element that `selector` finds. */
  async screenshot(selector: string): Promise<Uint8Array> {
    const box = await this.#box(selector);
    const { data } = await this.send("Page.captureScreenshot", {
      format: "png",
      clip: { ...box, scale: 1 },
    });
    return Uint8Array.from(atob(String(data)), (c) => c.charCodeAt(0));
  }

  /**
   * A PNG screenshot of the whole page, below the fold too: the viewport
   * grows to the page's height for the shot, then shrinks back.
   */
  async pageScreenshot(): Promise<Uint8Array> {
    const { width, height } = this.#size;
    const full = await this.evaluate<number>(
      "document.documentElement.scrollHeight",
    );
    if (full > height) await this.viewport(width, full);
    try {
      const { data } = await this.send("Page.captureScreenshot", {
        format: "png",
      });
      return Uint8Array.from(atob(String(data)), (c) => c.charCodeAt(0));
    } finally {
      if (full > height) await this.viewport(width, height);
    }
  }

  /** Closes Chromium and removes its profile. */
  async close(): Promise<void> {
    try {
      await this.send("Browser.close", {}, "").catch(() => {});
      const closed = new Promise((resolve) => this.#socket.onclose = resolve);
      this.#socket.close();
      await within(5000, closed, "DevTools socket to close").catch(() => {});
      await within(5000, this.#child.status, "Chromium to exit").catch(() => {
        this.#child.kill("SIGKILL");
      });
      await this.#child.status;
      await this.#stderr;
    } finally {
      await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
    }
  }
}

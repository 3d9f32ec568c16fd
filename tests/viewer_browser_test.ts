/**
 * The viewer page in headless Chromium.
 *
 * playwright-core cannot load under `deno test -P`: at import it reads
 * /proc/sys/fs/binfmt_misc/WSLInterop, which Deno grants only with
 * --allow-all. So this test drives Chromium through the DevTools protocol
 * over a WebSocket, which is all it needs.
 *
 * Set VIEWER_SCREENSHOTS=<dir> to keep the screenshots.
 */
import assert from "node:assert/strict";
import { Image } from "imagescript";
import { Viewer } from "../lib/viewer/mod.ts";
import { missing } from "./_deps.ts";

const ROCKET = await Deno.readFile(
  new URL("./fixtures/rocket.jpg", import.meta.url),
);
const HUBBLE = await Deno.readFile(
  new URL("./fixtures/hubble_deep_field.jpg", import.meta.url),
);
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
const STEP_MS = 15_000;

async function within<T>(ms: number, promise: Promise<T>, what: string) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Params = Record<string, unknown>;
interface CdpMessage {
  id?: number;
  method?: string;
  params?: Params;
  result?: Params;
  error?: { message: string };
  sessionId?: string;
}

/** A headless Chromium and one page, driven over the DevTools protocol. */
class Browser {
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

  send(method: string, params: Params = {}, session = this.#session) {
    const id = this.#nextId++;
    const message: CdpMessage = { id, method, params };
    if (session) message.sessionId = session;
    const reply = new Promise<Params>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    this.#socket.send(JSON.stringify(message));
    return within(STEP_MS, reply, method);
  }

  async navigate(url: string): Promise<void> {
    await this.send("Page.navigate", { url });
    await this.waitFor("document.readyState === 'complete'", "page load");
  }

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
      text: document.body.innerText.slice(0, 400),
    })`).catch((error) => String(error));
    assert.fail(
      `Timed out waiting for ${what}: ${condition}\npage: ${state}\nerrors: ${this.errors}`,
    );
  }

  /** A PNG screenshot of the element with id `id`. */
  async screenshot(id: string): Promise<Uint8Array> {
    const rect = await this.evaluate<
      { x: number; y: number; width: number; height: number }
    >(`(() => { const r = document.getElementById(${
      JSON.stringify(id)
    }).getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height }; })()`);
    assert.ok(rect.width > 0 && rect.height > 0, `#${id} has no size`);
    const { data } = await this.send("Page.captureScreenshot", {
      format: "png",
      clip: { ...rect, scale: 1 },
    });
    return Uint8Array.from(atob(String(data)), (c) => c.charCodeAt(0));
  }

  async pageScreenshot(): Promise<Uint8Array> {
    const { data } = await this.send("Page.captureScreenshot", {
      format: "png",
    });
    return Uint8Array.from(atob(String(data)), (c) => c.charCodeAt(0));
  }

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

/** How many distinct colours a sample of the image's pixels has. */
async function colours(png: Uint8Array): Promise<number> {
  const image = await Image.decode(png);
  const seen = new Set<number>();
  for (let y = 1; y <= image.height; y += 7) {
    for (let x = 1; x <= image.width; x += 7) {
      seen.add(image.getPixelAt(x, y));
    }
  }
  return seen.size;
}

async function keep(name: string, png: Uint8Array): Promise<void> {
  const dir = Deno.env.get("VIEWER_SCREENSHOTS");
  if (dir) await Deno.writeFile(`${dir}/${name}.png`, png);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

Deno.test({
  name:
    "Viewer page shows the live frames, stats and message in Chromium without console errors",
  ignore: missing("chromium"),
  async fn() {
    await using viewer = new Viewer({
      frameHint: "deno task client tests/fixtures/rocket.jpg",
    });
    const browser = await Browser.launch();
    try {
      await browser.navigate(viewer.url);
      await browser.waitFor(
        "!document.getElementById('waiting').hidden && document.getElementById('frame').hidden",
        "the waiting state",
      );
      await keep("waiting", await browser.pageScreenshot());

      const alice = "192.0.2.10:40000";
      viewer.publishFrame({ sender: alice, bytes: ROCKET, format: "jpeg" });
      await browser.waitFor(
        "document.getElementById('frame').naturalWidth === 640",
        "the first frame",
      );
      const first = await browser.screenshot("frame");
      assert.ok(await colours(first) > 20, "the image looks blank");

      viewer.publishFrame({ sender: alice, bytes: HUBBLE, format: "jpeg" });
      await browser.waitFor(
        "document.getElementById('frame').naturalWidth === 1000",
        "the second frame",
      );
      const second = await browser.screenshot("frame");
      assert.ok(await colours(second) > 20, "the second image looks blank");
      assert.ok(!sameBytes(first, second), "the image did not change");

      for (let i = 0; i < 20; i++) {
        viewer.publishFrame({
          sender: alice,
          bytes: i % 2 ? ROCKET : HUBBLE,
          format: "jpeg",
        });
      }
      viewer.publishMessage({ speed: 3.5, note: "hello from the test" }, alice);
      await browser.waitFor(
        "Number(document.getElementById('frames').textContent) >= 22",
        "the frame count",
      );
      await browser.waitFor(
        "document.getElementById('msg').textContent.includes('hello from the test')",
        "the last message",
      );
      const res = await browser.evaluate<string>(
        "document.getElementById('res').textContent",
      );
      assert.match(res, /^(640×427|1000×872)$/);
      await browser.waitFor(
        "document.getElementById('status').textContent === 'Live'",
        "the live status",
      );
      await keep("live", await browser.pageScreenshot());

      const bob = "192.0.2.20:40000";
      viewer.publishFrame({ sender: bob, bytes: ROCKET, format: "jpeg" });
      await browser.waitFor(
        "!document.getElementById('sender-box').hidden && document.getElementById('sender').options.length === 3",
        "the sender selector",
      );
      await browser.evaluate(`(() => {
        const select = document.getElementById('sender');
        select.value = ${JSON.stringify(bob)};
        select.dispatchEvent(new Event('change'));
      })()`);
      await browser.waitFor(
        `document.getElementById('frame').src.includes(${
          JSON.stringify(encodeURIComponent(bob))
        }) &&
         document.getElementById('frame').naturalWidth === 640 &&
         document.getElementById('caption').textContent.startsWith(${
          JSON.stringify(bob)
        })`,
        "the selected sender's stream",
      );
      await keep("two_senders", await browser.pageScreenshot());

      assert.deepEqual(browser.errors, []);

      await viewer.close();
      await browser.waitFor(
        "!document.getElementById('banner').hidden && document.getElementById('status').textContent === 'Connection lost'",
        "the connection-lost state",
      );
      await keep("lost", await browser.pageScreenshot());
    } finally {
      await browser.close();
    }
  },
});

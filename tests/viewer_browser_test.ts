/**
 * The viewer page in headless Chromium, driven over the DevTools protocol
 * (see `_browser.ts`).
 *
 * Set VIEWER_SCREENSHOTS=<dir> to keep the screenshots.
 */
import assert from "node:assert/strict";
import { Image } from "imagescript";
import { runDemoSender } from "../lib/demo.ts";
import { Viewer } from "../lib/viewer/mod.ts";
import { Browser } from "./_browser.ts";
import { within } from "./_within.ts";
import { missing } from "./_deps.ts";
import { script } from "./_process.ts";

const ROCKET = await Deno.readFile(
  new URL("./fixtures/rocket.jpg", import.meta.url),
);
const HUBBLE = await Deno.readFile(
  new URL("./fixtures/hubble_deep_field.jpg", import.meta.url),
);

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

/** Screenshots of the page at 1400, 2560 and 360 pixels wide. */
async function keepViews(browser: Browser, view: string): Promise<void> {
  const sizes = [["", 1400, 900], ["_wide_2560", 2560, 1440], [
    "_narrow_360",
    360,
    800,
  ]] as const;
  for (const [suffix, width, height] of sizes) {
    await browser.viewport(width, height);
    await keep(view + suffix, await browser.pageScreenshot());
  }
  await browser.viewport(1400, 900);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The value elements of the cards that are cut off: wider than their box. */
function cutOffCards(browser: Browser): Promise<string[]> {
  return browser.evaluate<string[]>(`[...document.querySelectorAll(".card b")]
    .filter((b) => b.offsetParent !== null && b.scrollWidth > b.clientWidth)
    .map((b) => b.id + "=" + b.textContent + " " + b.scrollWidth + ">" + b.clientWidth)`);
}

/** Checks at widths from 360 to 2560 pixels that no card value is cut off. */
async function checkCardsFit(browser: Browser, view: string): Promise<void> {
  for (const width of [360, 600, 900, 1400, 1920, 2560]) {
    await browser.viewport(width, 900);
    assert.deepEqual(await cutOffCards(browser), [], `${view} at ${width} px`);
  }
  await browser.viewport(1400, 900);
}

Deno.test({
  name:
    "Viewer page shows the live frames, stats and message in Chromium, and a wall once a second sender comes",
  ignore: missing("chromium"),
  async fn() {
    await using viewer = new Viewer({
      frameHint: "deno task client tests/fixtures/rocket.jpg",
      staleAfterMs: 1000,
      forgetAfterMs: 3000,
    });
    const browser = await Browser.launch();
    let keepAlive: ReturnType<typeof setInterval> | undefined;
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
      const first = await browser.screenshot("#frame");
      assert.ok(await colours(first) > 20, "the image looks blank");

      viewer.publishFrame({ sender: alice, bytes: HUBBLE, format: "jpeg" });
      await browser.waitFor(
        "document.getElementById('frame').naturalWidth === 1000",
        "the second frame",
      );
      const second = await browser.screenshot("#frame");
      assert.ok(!sameBytes(first, second), "the image did not change");

      for (let i = 0; i < 20; i++) {
        viewer.publishFrame({
          sender: alice,
          bytes: i % 2 ? ROCKET : HUBBLE,
          format: "jpeg",
        });
      }
      // From here on Alice keeps sending, so that she is never stale.
      keepAlive = setInterval(
        () =>
          viewer.publishFrame({ sender: alice, bytes: ROCKET, format: "jpeg" }),
        200,
      );
      viewer.publishMessage({ speed: 3.5, note: "hello from the test" }, alice);
      await browser.waitFor(
        "Number(document.getElementById('frames').textContent) >= 22",
        "the frame count",
      );
      await browser.waitFor(
        "document.getElementById('msg').textContent.includes('hello from the test')",
        "the last message",
      );
      assert.match(
        await browser.evaluate<string>(
          "document.getElementById('res').textContent",
        ),
        /^(640×427|1000×872)$/,
      );
      await browser.waitFor(
        "document.getElementById('status').textContent === 'Live'",
        "the live status",
      );

      // A second sender turns the page into a wall; once it is forgotten,
      // the page shows the first alone again.
      const bob = "192.0.2.20:40000";
      viewer.publishFrame({ sender: bob, bytes: HUBBLE, format: "jpeg" });
      await browser.waitFor(
        `document.querySelectorAll('.tile').length === 2 &&
         document.querySelector('.tile[data-sender="${bob}"] img').naturalWidth === 1000`,
        "the wall of two",
      );
      await browser.waitFor(
        `document.querySelector('.tile[data-sender="${bob}"]').classList.contains('stale')`,
        "the silent sender marked stale",
      );
      await keep("wall_stale", await browser.pageScreenshot());
      await browser.waitFor(
        "document.getElementById('wall').hidden && !document.getElementById('frame').hidden && document.querySelectorAll('.tile').length === 0",
        "the forgotten sender's tile to go",
      );
      assert.deepEqual(browser.errors, []);

      clearInterval(keepAlive);
      await viewer.close();
      await browser.waitFor(
        "!document.getElementById('banner').hidden && document.getElementById('status').textContent === 'Connection lost'",
        "the connection-lost state",
      );
      await keep("lost", await browser.pageScreenshot());
    } finally {
      clearInterval(keepAlive);
      await browser.close();
    }
  },
});

Deno.test({
  name:
    "Viewer page: three real senders on a wall, focus and back, plots, snapshot, behind a token on 127.0.0.2",
  ignore: missing("chromium"),
  async fn() {
    const token = "browser-test-token";
    await using server = script("server.ts", [
      "--port",
      "0",
      "--msg-port",
      "0",
      "--view",
      "0",
      "--view-host",
      "127.0.0.2",
      "--view-token",
      token,
      "--quiet",
    ]);
    const ready = await server.waitFor(
      /^ready image=[\d.]+:(\d+) msg=[\d.]+:(\d+)$/,
    );
    const printed = await server.waitFor(
      /^viewer: (http:\/\/127\.0\.0\.2:\d+\/)\?token=(\S+)$/,
    );
    const base = printed[1]!;
    assert.equal(printed[2], token);
    const statsOf = async () => {
      const response = await fetch(`${base}stats`, {
        headers: { authorization: `Bearer ${token}` },
      });
      return await response.json();
    };
    const refused = await fetch(`${base}stats`);
    assert.equal(refused.status, 401);
    await refused.body?.cancel();

    // The 1280×720 one is the sender that the resolution card once cut off.
    const sizes = [[320, 240], [1280, 720], [400, 300]] as const;
    const stops = sizes.map(() => new AbortController());
    const senders = sizes.map(([width, height], i) =>
      runDemoSender({
        port: Number(ready[1]),
        ...(i === 0 && { messagePort: Number(ready[2]) }),
        width,
        height,
        fps: 8,
        signal: stops[i]!.signal,
      })
    );
    const downloads = await Deno.makeTempDir({ prefix: "udpimg_downloads_" });
    const browser = await Browser.launch();
    try {
      const tileOf = (size: string) =>
        `[...document.querySelectorAll('.tile')].find((t) => t.querySelector('.tile-info').textContent.includes('${size}'))`;
      await browser.navigate(`${base}?token=${token}`);
      assert.equal(
        await browser.evaluate<string>("location.href"),
        base,
        "the token stays in the address bar",
      );
      await browser.waitFor(
        `document.querySelectorAll('.tile').length === 3 &&
         [...document.querySelectorAll('.tile')].every((t) =>
           Number(t.dataset.shown) >= 2 && t.querySelector('img').naturalWidth > 0) &&
         ${tileOf("1280×720")} && ${tileOf("400×300")} && ${tileOf("320×240")}`,
        "three live tiles",
      );
      const info = await browser.evaluate<string[]>(
        "[...document.querySelectorAll('.tile-info')].map((i) => i.textContent)",
      );
      for (const text of info) assert.match(text, /fps.*classic/);

      // Every tile changes from frame to frame.
      const shown = await browser.evaluate<number[]>(
        "[...document.querySelectorAll('.tile')].map((t) => Number(t.dataset.shown))",
      );
      const before = await browser.screenshot(".tile img");
      await browser.waitFor(
        `[...document.querySelectorAll('.tile')].every((t, i) => Number(t.dataset.shown) >= ${
          JSON.stringify(shown)
        }[i] + 3)`,
        "each tile to show three more frames",
      );
      const after = await browser.screenshot(".tile img");
      assert.ok(await colours(after) > 20, "the tile looks blank");
      assert.ok(!sameBytes(before, after), "the first tile did not change");

      // Plots: one line per sender and one for all, with at least two points.
      await browser.waitFor(
        `['fps', 'kbps'].every((id) => {
           const paths = [...document.querySelectorAll('#plot-' + id + ' path.line')];
           return paths.length === 4 && paths.every((p) => (p.getAttribute('d').match(/L/g) || []).length >= 2);
         }) && document.querySelector('#plot-loss path.line').getAttribute('d').includes('L')`,
        "the plots to draw",
      );
      assert.ok(
        await browser.evaluate<boolean>(
          "document.getElementById('plot-latency').hidden",
        ),
        "a latency plot without latency",
      );
      await checkCardsFit(browser, "wall");
      await keepViews(browser, "wall");

      // A click focuses one sender; the address says so.
      const focused = await browser.evaluate<string>(
        `${tileOf("1280×720")}.dataset.sender`,
      );
      await browser.click(`.tile[data-sender="${focused}"]`);
      await browser.waitFor(
        `new URLSearchParams(location.search).get('sender') === ${
          JSON.stringify(focused)
        } && location.search.includes(':') &&
         document.getElementById('wall').hidden &&
         document.getElementById('frame').naturalWidth === 1280 &&
         document.getElementById('res').textContent === '1280×720' &&
         !document.getElementById('to-wall').hidden &&
         document.querySelectorAll('#plot-fps path.line').length === 1`,
        "the focused sender",
      );
      await checkCardsFit(browser, "focused");
      await keepViews(browser, "focused");

      // The snapshot button downloads the frame with a timestamped name.
      await browser.send("Browser.setDownloadBehavior", {
        behavior: "allow",
        downloadPath: downloads,
        eventsEnabled: true,
      }, "");
      let suggested = "";
      const completed = new Promise<void>((resolve) => {
        browser.on("Browser.downloadWillBegin", (params) => {
          suggested = String(params.suggestedFilename);
        });
        browser.on("Browser.downloadProgress", (params) => {
          if (params.state === "completed") resolve();
        });
      });
      await browser.click("#snapshot");
      await within(15_000, completed, "the snapshot download");
      const name = `udpimg-${focused.replace(":", "_")}-`;
      assert.ok(suggested.startsWith(name), suggested);
      assert.match(suggested, /-\d{8}-\d{6}\.jpg$/);
      const snapshot = await Deno.readFile(`${downloads}/${suggested}`);
      const decoded = await Image.decode(snapshot);
      assert.deepEqual([decoded.width, decoded.height], [1280, 720]);

      // Escape goes back to the wall, and the focused stream closes.
      await browser.press("Escape", 27);
      await browser.waitFor(
        "location.search === '' && !document.getElementById('wall').hidden && document.getElementById('frame').hidden && document.getElementById('to-wall').hidden",
        "the wall after Escape",
      );
      await within(
        15_000,
        (async () => {
          while ((await statsOf()).viewers !== 1) {
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        })(),
        "the focused stream to close",
      );
      // Back and forward, as the browser's buttons do.
      await browser.evaluate("history.back()");
      await browser.waitFor(
        `new URLSearchParams(location.search).get('sender') === ${
          JSON.stringify(focused)
        } && document.getElementById('frame').naturalWidth === 1280`,
        "the focused sender after going back",
      );
      await browser.evaluate("history.forward()");
      await browser.waitFor(
        "location.search === '' && document.querySelectorAll('.tile').length === 3",
        "the wall after going forward",
      );

      // A sender that stops is marked stale.
      stops[2]!.abort();
      await browser.waitFor(
        `${tileOf("400×300")}.classList.contains('stale') &&
         document.querySelectorAll('.tile.stale').length === 1`,
        "the stopped sender marked stale",
      );
      await keep("wall_one_stale", await browser.pageScreenshot());
      assert.deepEqual(browser.errors, []);
      const stats = await statsOf();
      assert.equal(stats.senders.length, 3);
      assert.ok(stats.messages > 0);
    } finally {
      for (const stop of stops) stop.abort();
      await Promise.all(senders);
      await browser.close();
      await Deno.remove(downloads, { recursive: true });
    }
    server.kill("SIGTERM");
    assert.equal((await server.exit()).code, 0);
  },
});

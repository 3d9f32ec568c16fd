/**
 * The viewer's web page: one self-contained HTML document with inline CSS
 * and JavaScript, no external resources, so that it works offline.
 *
 * @module
 */

import { PAGE_SCRIPT } from "./_page_script.ts";
import { PAGE_STYLE } from "./_page_style.ts";

/** Options for {@linkcode renderPage}. */
export interface PageOptions {
  /**
   * The page title and heading.
   *
   * @default {"udpimg"}
   */
  title?: string;
  /**
   * The command shown while no frame has arrived yet.
   *
   * @default {"deno task client"}
   */
  frameHint?: string;
  /**
   * The command shown while no message has arrived yet.
   *
   * @default {"deno task msg '{\"hello\": \"world\"}'"}
   */
  messageHint?: string;
  /**
   * How often the page polls `/stats`, in milliseconds.
   *
   * @default {700}
   */
  pollMs?: number;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Keeps `</script>` and friends out of JSON embedded in a script element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}

/**
 * The Content-Security-Policy the page is served with: it allows nothing
 * from other origins. `blob:` images are the wall's tiles, which the page
 * cuts from one `/wall.mjpg` stream.
 */
export const PAGE_CSP =
  "default-src 'none'; img-src 'self' data: blob:; connect-src 'self'; " +
  "style-src 'unsafe-inline'; script-src 'unsafe-inline'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Renders the viewer page. With several senders it shows them all as a
 * wall of tiles, read from `/wall.mjpg`; a click on a tile, or
 * `?sender=HOST:PORT` in the address, shows one sender from
 * `/stream.mjpg`, and Escape goes back. It polls `/stats` and, once a
 * second, `/history` for its plots, one request at a time.
 *
 * @param options Title, hints and poll interval.
 * @returns The HTML document.
 *
 * @example Usage
 * ```ts
 * import { renderPage } from "./page.ts";
 * const html = renderPage({ title: "camera 1" });
 * console.log(html.includes("<title>camera 1</title>")); // true
 * ```
 */
export function renderPage(options: PageOptions = {}): string {
  const {
    title = "udpimg",
    frameHint = "deno task client",
    messageHint = `deno task msg '{"hello": "world"}'`,
    pollMs = 700,
  } = options;
  const config = scriptJson({ frameHint, messageHint, pollMs });
  const plot = (id: string, name: string) =>
    `<div class="plot" id="plot-${id}"><div class="plot-head"><span>${name}</span><b class="mono" id="plot-${id}-now"></b></div>` +
    `<svg viewBox="0 0 240 56" preserveAspectRatio="none" role="img" aria-label="${name} over the last minute">` +
    `<path class="grid" d="M0 0.5H240M0 28H240M0 55.5H240"/><g class="lines"></g></svg></div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='4' fill='%2338bdf8'/%3E%3Ccircle cx='8' cy='8' r='3' fill='%230b1120'/%3E%3C/svg%3E">
<style>${PAGE_STYLE}</style>
</head>
<body>
<header>
  <div class="brand"><span class="logo"></span><h1>${
    escapeHtml(title)
  }</h1><span class="sub">live viewer</span></div>
  <div class="controls">
    <button id="to-wall" class="btn" type="button" hidden title="Back to all senders (Esc)">&#8592; All senders</button>
    <span id="view-label" class="mono muted"></span>
    <a id="snapshot" class="btn" hidden download title="Download the current frame">Snapshot</a>
    <span id="status" class="pill wait"><i></i><b>Connecting…</b></span>
  </div>
</header>
<div id="banner" class="banner" hidden>Connection to the server lost. Retrying… Is the server still running?</div>
<main>
  <section class="stage" id="stage">
    <div id="wall" class="wall" hidden></div>
    <img id="frame" alt="Newest frame" hidden>
    <div id="waiting" class="waiting">
      <div class="spinner"></div>
      <h2 id="waiting-title">Waiting for frames…</h2>
      <p>The picture appears here as soon as the first image arrives. Send one with:</p>
      <pre class="cmd" id="frame-hint"></pre>
      <p class="muted">Any client of the Python tutorial works too: it sends to the image port.</p>
    </div>
    <div id="gone" class="gone" hidden>
      <div class="mark">!</div>
      <h2>Connection lost</h2>
      <p>The viewer cannot reach the server. It retries on its own.</p>
    </div>
    <div id="paused" class="overlay" hidden></div>
    <div id="caption" class="caption mono" hidden></div>
  </section>
  <aside>
    <div class="cards">
      <div class="card"><span>FPS</span><b id="fps">–</b></div>
      <div class="card"><span>KB/s</span><b id="kbps">–</b></div>
      <div class="card" id="res-card"><span>Resolution</span><b id="res">–</b></div>
      <div class="card" id="senders-card" hidden><span>Senders</span><b id="senders">0</b></div>
      <div class="card"><span>Frames</span><b id="frames">0</b></div>
      <div class="card"><span>Dropped</span><b id="dropped">0</b></div>
      <div class="card" id="lost-card" hidden><span>Lost</span><b id="lost">0</b></div>
      <div class="card" id="latency-card" hidden><span>Latency ms</span><b id="latency">–</b></div>
      <div class="card"><span>Errors</span><b id="errors">0</b></div>
    </div>
    <p class="detail muted" id="detail"></p>
    <div class="panel plots" id="plots">
      <div class="panel-head"><h3>Last minute</h3><span id="plots-meta" class="muted"></span></div>
      ${plot("fps", "FPS")}
      ${plot("kbps", "KB/s")}
      ${plot("loss", "Dropped / lost per s")}
      ${plot("latency", "Latency ms")}
    </div>
    <div class="panel">
      <div class="panel-head"><h3>Last message</h3><span id="msg-meta" class="muted mono"></span></div>
      <pre id="msg" class="json"></pre>
      <div id="msg-empty" class="muted">No message yet. Send JSON to the message port:<pre class="cmd" id="msg-hint"></pre></div>
    </div>
  </aside>
</main>
<script id="config" type="application/json">${config}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

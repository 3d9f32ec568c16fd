/**
 * The viewer's web page: one self-contained HTML document with inline CSS
 * and JavaScript, no external resources, so that it works offline.
 *
 * @module
 */

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
 * from other origins.
 */
export const PAGE_CSP =
  "default-src 'none'; img-src 'self' data:; connect-src 'self'; " +
  "style-src 'unsafe-inline'; script-src 'unsafe-inline'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Renders the viewer page. It polls `/stats`, shows `/stream.mjpg` in an
 * `<img>`, and offers a sender selector when several senders stream.
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
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='4' fill='%2338bdf8'/%3E%3Ccircle cx='8' cy='8' r='3' fill='%230b1120'/%3E%3C/svg%3E">
<style>${CSS}</style>
</head>
<body>
<header>
  <div class="brand"><span class="logo"></span><h1>${
    escapeHtml(title)
  }</h1><span class="sub">live viewer</span></div>
  <div class="controls">
    <label id="sender-box" hidden>Sender
      <select id="sender" aria-label="Sender"></select>
    </label>
    <span id="single-sender" class="mono muted"></span>
    <span id="status" class="pill wait"><i></i><b>Connecting…</b></span>
  </div>
</header>
<div id="banner" class="banner" hidden>Connection to the server lost. Retrying… Is the server still running?</div>
<main>
  <section class="stage" id="stage">
    <img id="frame" alt="Newest frame" hidden>
    <div id="waiting" class="waiting">
      <div class="spinner"></div>
      <h2>Waiting for frames…</h2>
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
      <div class="card"><span>Resolution</span><b id="res">–</b></div>
      <div class="card"><span>Frames</span><b id="frames">0</b></div>
      <div class="card"><span>Dropped</span><b id="dropped">0</b></div>
      <div class="card"><span>Errors</span><b id="errors">0</b></div>
    </div>
    <p class="detail muted" id="detail"></p>
    <div class="panel">
      <div class="panel-head"><h3>Last message</h3><span id="msg-meta" class="muted mono"></span></div>
      <pre id="msg" class="json"></pre>
      <div id="msg-empty" class="muted">No message yet. Send JSON to the message port:<pre class="cmd" id="msg-hint"></pre></div>
    </div>
  </aside>
</main>
<script id="config" type="application/json">${config}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

const CSS = `
:root {
  --bg: #0b1120; --panel: #111a2e; --card: #16213a; --line: #24304a;
  --text: #e2e8f0; --muted: #8b9ab3; --accent: #38bdf8; --ok: #34d399;
  --warn: #fbbf24; --bad: #f87171;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; height: 100%; background: var(--bg); color: var(--text); }
body { display: flex; flex-direction: column; }
.mono, pre, code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
.muted { color: var(--muted); }
header { display: flex; align-items: center; justify-content: space-between; gap: 16px;
  padding: 12px 20px; border-bottom: 1px solid var(--line); background: #0d1426; flex-wrap: wrap; }
.brand { display: flex; align-items: baseline; gap: 10px; }
.logo { width: 12px; height: 12px; border-radius: 3px; background: var(--accent);
  box-shadow: 0 0 12px var(--accent); align-self: center; }
h1 { font-size: 18px; margin: 0; font-weight: 650; letter-spacing: .2px; }
.sub { color: var(--muted); font-size: 13px; }
.controls { display: flex; align-items: center; gap: 14px; flex-wrap: wrap; font-size: 13px; }
label { color: var(--muted); display: flex; align-items: center; gap: 8px; }
select { background: var(--card); color: var(--text); border: 1px solid var(--line);
  border-radius: 8px; padding: 6px 10px; font: inherit; max-width: 320px; }
.pill { display: inline-flex; align-items: center; gap: 8px; padding: 5px 12px; border-radius: 999px;
  font-size: 12px; font-weight: 600; background: var(--card); border: 1px solid var(--line); }
.pill i { width: 8px; height: 8px; border-radius: 50%; background: var(--muted); }
.pill.live i { background: var(--ok); box-shadow: 0 0 8px var(--ok); animation: pulse 1.6s infinite; }
.pill.live { color: var(--ok); }
.pill.wait i { background: var(--accent); } .pill.wait { color: var(--accent); }
.pill.paused i { background: var(--warn); } .pill.paused { color: var(--warn); }
.pill.lost i { background: var(--bad); } .pill.lost { color: var(--bad); }
@keyframes pulse { 50% { opacity: .35; } }
.banner { background: #3b1219; color: #fecaca; border-bottom: 1px solid #7f1d1d;
  padding: 10px 20px; font-size: 14px; }
main { flex: 1; display: grid; grid-template-columns: minmax(0, 1fr) 360px; gap: 20px;
  padding: 20px; min-height: 0; }
.stage { position: relative; background: #060a14; border: 1px solid var(--line); border-radius: 14px;
  display: flex; align-items: center; justify-content: center; overflow: hidden; min-height: 320px; }
.stage img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; display: block; }
body.lost .stage img { opacity: .25; filter: grayscale(1); }
.gone h2 { color: var(--bad); margin: 12px 0 8px; font-size: 20px; font-weight: 600; }
.gone p { color: var(--muted); margin: 0; }
.gone .mark { width: 38px; height: 38px; margin: 0 auto; border-radius: 50%; border: 3px solid var(--bad);
  color: var(--bad); font-weight: 700; font-size: 22px; line-height: 32px; }
.waiting, .gone { text-align: center; position: relative; max-width: 520px; padding: 24px; }
.waiting h2 { margin: 16px 0 8px; font-size: 20px; font-weight: 600; }
.waiting p { color: var(--muted); margin: 8px 0; line-height: 1.5; }
.spinner { width: 38px; height: 38px; margin: 0 auto; border-radius: 50%;
  border: 3px solid var(--line); border-top-color: var(--accent); animation: spin 1s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
pre.cmd { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  text-align: left; color: var(--accent); font-size: 13px; white-space: pre-wrap; word-break: break-all; margin: 10px 0; }
.overlay { position: absolute; top: 12px; left: 50%; transform: translateX(-50%); background: rgba(11,17,32,.85);
  border: 1px solid var(--warn); color: var(--warn); padding: 6px 14px; border-radius: 999px; font-size: 13px; }
.caption { position: absolute; left: 12px; bottom: 12px; background: rgba(11,17,32,.78);
  padding: 5px 10px; border-radius: 8px; font-size: 12px; color: var(--text); }
aside { display: flex; flex-direction: column; gap: 16px; min-width: 0; }
.cards { display: grid; grid-template-columns: 1fr 1fr 1.5fr; gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 12px; min-width: 0; }
.card span { display: block; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .08em; }
.card b { display: block; font-size: 22px; font-weight: 650; margin-top: 6px; font-variant-numeric: tabular-nums;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.card b.small { font-size: 16px; line-height: 26px; }
.detail { font-size: 12px; margin: -4px 2px 0; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 14px;
  display: flex; flex-direction: column; min-height: 0; flex: 1; font-size: 13px; }
.panel-head { display: flex; justify-content: space-between; align-items: baseline; gap: 4px 12px;
  flex-wrap: wrap; margin-bottom: 10px; }
.panel-head span { font-size: 12px; }
h3 { margin: 0; white-space: nowrap; font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted); }
pre.json { margin: 0; overflow: auto; color: #c4f1d8; font-size: 13px; line-height: 1.45; max-height: 50vh; }
@media (max-width: 900px) {
  main { grid-template-columns: 1fr; }
  .stage { min-height: 240px; }
}
`;

// Runs in the browser. Plain ES2020, no framework.
const SCRIPT = `
"use strict";
const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const img = $("frame");
const select = $("sender");
let selected = new URLSearchParams(location.search).get("sender") || "";
let online = true;
let streamFor = null;
let senderKeys = "";
let retryTimer = 0;

$("frame-hint").textContent = config.frameHint;
$("msg-hint").textContent = config.messageHint;

function query() {
  return selected ? "?sender=" + encodeURIComponent(selected) : "";
}

function startStream() {
  streamFor = selected;
  const sep = selected ? "&" : "?";
  img.src = "/stream.mjpg" + query() + sep + "t=" + Date.now();
}

img.addEventListener("error", () => {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => { if (online) startStream(); }, 1000);
});

select.addEventListener("change", () => {
  selected = select.value;
  const url = new URL(location.href);
  if (selected) url.searchParams.set("sender", selected); else url.searchParams.delete("sender");
  history.replaceState(null, "", url);
  startStream();
  poll(false);
});

function fmt(n) {
  return n >= 1e6 ? (n / 1e6).toFixed(2) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k" : String(n);
}
function ago(ms) {
  return ms < 1500 ? "just now" : ms < 90000 ? Math.round(ms / 1000) + " s ago" : Math.round(ms / 60000) + " min ago";
}

function setStatus(kind, text) {
  const pill = $("status");
  pill.className = "pill " + kind;
  pill.querySelector("b").textContent = text;
}

function updateSenders(stats) {
  const keys = stats.senders.map((s) => s.sender).join(",");
  const several = stats.senders.length > 1 || (selected && stats.senders.length > 0);
  $("sender-box").hidden = !several;
  $("single-sender").textContent = !several && stats.senders[0] ? "from " + stats.senders[0].sender : "";
  if (keys !== senderKeys) {
    senderKeys = keys;
    select.replaceChildren();
    select.add(new Option("Auto (most recent)", ""));
    for (const s of stats.senders) select.add(new Option(s.sender, s.sender));
    if (selected && !stats.senders.some((s) => s.sender === selected)) select.add(new Option(selected + " (gone)", selected));
  }
  select.value = selected;
}

function render(stats) {
  document.body.classList.remove("lost");
  $("banner").hidden = true;
  $("gone").hidden = true;
  updateSenders(stats);
  const sender = stats.senders.find((s) => s.sender === stats.selected);
  const hasFrames = sender !== undefined;
  $("waiting").hidden = hasFrames;
  img.hidden = !hasFrames;
  $("caption").hidden = !hasFrames;
  if (hasFrames && (!online || streamFor !== selected || !img.src)) startStream();
  online = true;
  $("fps").textContent = sender ? sender.fps.toFixed(1) : "–";
  $("kbps").textContent = sender ? fmt(Math.round(sender.kbps)) : "–";
  const res = $("res");
  res.textContent = sender && sender.width ? sender.width + "×" + sender.height : "–";
  res.classList.toggle("small", res.textContent.length > 8);
  $("frames").textContent = fmt(stats.frames);
  $("dropped").textContent = fmt(stats.dropped);
  $("errors").textContent = fmt(stats.errors);
  $("detail").textContent = "decoded " + fmt(stats.decoded) + " · skipped " + fmt(stats.skipped) +
    " · received " + fmt(Math.round(stats.bytes / 1000)) + " KB · all senders " + stats.fps.toFixed(1) +
    " fps · " + stats.viewers + (stats.viewers === 1 ? " viewer" : " viewers");
  if (sender) {
    $("caption").textContent = sender.sender + " · " + sender.format.toUpperCase() +
      (sender.width ? " · " + sender.width + "×" + sender.height : "") + " · " + fmt(sender.frames) + (sender.frames === 1 ? " frame" : " frames");
  }
  const paused = sender !== undefined && sender.lastFrameAgoMs > 3000;
  $("paused").hidden = !paused;
  if (paused) $("paused").textContent = "No new frames for " + Math.round(sender.lastFrameAgoMs / 1000) + " s";
  if (!hasFrames) setStatus("wait", selected ? "Waiting for " + selected : "Waiting for frames");
  else if (paused) setStatus("paused", "Paused");
  else setStatus("live", "Live");
  const hasMsg = stats.messages > 0;
  $("msg").hidden = !hasMsg;
  $("msg-empty").hidden = hasMsg;
  if (hasMsg) {
    const text = JSON.stringify(stats.lastMessage, null, 2);
    if ($("msg").textContent !== text) $("msg").textContent = text;
    $("msg-meta").textContent = "#" + stats.messages + " from " + stats.lastMessageSender + ", " + ago(stats.lastMessageAgoMs);
  }
}

function lost() {
  online = false;
  document.body.classList.add("lost");
  $("banner").hidden = false;
  $("gone").hidden = false;
  $("waiting").hidden = true;
  $("paused").hidden = true;
  setStatus("lost", "Connection lost");
}

let timer = 0;
async function poll(again = true) {
  try {
    const response = await fetch("/stats" + query(), { cache: "no-store", signal: AbortSignal.timeout(3000) });
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
  } catch {
    lost();
  }
  if (again) { clearTimeout(timer); timer = setTimeout(poll, config.pollMs); }
}
poll();
`;

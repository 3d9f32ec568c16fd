/**
 * The viewer page's script: plain ES2020 that runs in the browser, with no
 * framework and no external resources.
 *
 * Views: `/` with several senders is the wall, every sender's tile fed by
 * one `/wall.mjpg` stream that this script cuts into parts (one connection
 * for any number of tiles, where an `<img>` per tile would need one each,
 * and browsers allow about six per host); `/?sender=HOST:PORT`, or `/` with
 * one sender, shows one sender from `/stream.mjpg` in an `<img>`. Each tab
 * holds at most two connections: its stream, and one poll at a time.
 *
 * @module
 */

/** The script, inlined into the page. */
export const PAGE_SCRIPT = String.raw`
"use strict";
const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const img = $("frame");
const wallEl = $("wall");
const COLORS = ["#38bdf8", "#f472b6", "#a3e635", "#fbbf24", "#c084fc", "#fb923c", "#2dd4bf", "#e879f9"];
const DROPPED_COLOR = "#f87171";
const TOTAL_COLOR = "#cbd5e1";
const HISTORY_EVERY_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";
const decoder = new TextDecoder();

let stats = null;
let hist = null;
let online = true;
let mode = "";
let streamFor = null;
let retryTimer = 0;
let wallAbort = null;
let wallRetry = 0;
let lastHistoryAt = 0;
const tiles = new Map();
const colorOf = new Map();
let colorNext = 0;

$("frame-hint").textContent = config.frameHint;
$("msg-hint").textContent = config.messageHint;

function selectedSender() {
  return new URLSearchParams(location.search).get("sender") || "";
}
function senderQuery(sender) {
  return "?sender=" + encodeURIComponent(sender).replace(/%3A/gi, ":");
}
function colorFor(sender) {
  if (!colorOf.has(sender)) colorOf.set(sender, COLORS[colorNext++ % COLORS.length]);
  return colorOf.get(sender);
}
function fmt(n) {
  return n >= 1e6 ? (n / 1e6).toFixed(2) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k" : String(n);
}
function fmtRate(n) {
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}
function ago(ms) {
  return ms < 1500 ? "just now" : ms < 90000 ? Math.round(ms / 1000) + " s ago" : Math.round(ms / 60000) + " min ago";
}
function span(className, text) {
  const el = document.createElement("span");
  if (className) el.className = className;
  el.textContent = text;
  return el;
}

// Navigation: the address says what is shown, so a view can be bookmarked.
function go(sender) {
  history.pushState(null, "", sender ? senderQuery(sender) : location.pathname);
  apply();
  pollSoon();
}
window.addEventListener("popstate", () => { apply(); pollSoon(); });
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && selectedSender()) {
    event.preventDefault();
    go("");
  }
});
$("to-wall").addEventListener("click", () => go(""));

function currentMode() {
  if (selectedSender()) return "focus";
  return stats && stats.senders.length > 1 ? "wall" : "single";
}

/** Switches the stage to the view the address and the senders call for. */
function apply() {
  const next = currentMode();
  if (next !== mode) {
    mode = next;
    document.body.classList.toggle("wall-view", mode === "wall");
    if (mode === "wall") {
      stopStream();
      startWall();
    } else {
      stopWall();
      streamFor = null;
      // Tiles come back with the wall stream, which opens with every frame.
      for (const tile of [...tiles.values()]) removeTile(tile, false);
    }
    lastHistoryAt = 0;
  }
  if (stats) render();
}

// The single view: MJPEG in an <img>.
function startStream(sender) {
  streamFor = sender;
  delete img.dataset.broken;
  img.src = "/stream.mjpg" + (sender ? senderQuery(sender) + "&" : "?") + "t=" + Date.now();
}
function stopStream() {
  streamFor = null;
  clearTimeout(retryTimer);
  img.removeAttribute("src");
}
img.addEventListener("load", () => { delete img.dataset.broken; });
img.addEventListener("error", () => {
  // No broken-image icon while the server is away.
  img.dataset.broken = "";
  clearTimeout(retryTimer);
  if (streamFor === null) return;
  const sender = streamFor;
  retryTimer = setTimeout(() => { if (online && mode !== "wall") startStream(sender); }, 1000);
});

// The wall: one multipart stream, cut into parts by Content-Length.
function partReader() {
  let buffer = new Uint8Array(1 << 20);
  let start = 0;
  let end = 0;
  let head = null;
  return {
    push(chunk) {
      if (end + chunk.length > buffer.length) {
        const live = end - start;
        const size = Math.max(buffer.length, (live + chunk.length) * 2);
        const next = size > buffer.length ? new Uint8Array(size) : buffer;
        next.set(buffer.subarray(start, end));
        buffer = next;
        start = 0;
        end = live;
      }
      buffer.set(chunk, end);
      end += chunk.length;
    },
    next() {
      if (head === null) {
        let at = -1;
        for (let i = start; i + 3 < end; i++) {
          if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10) { at = i; break; }
        }
        if (at < 0) return null;
        head = { type: "image/jpeg", length: -1, sender: "" };
        for (const line of decoder.decode(buffer.subarray(start, at)).split("\r\n")) {
          const colon = line.indexOf(":");
          if (colon < 0) continue;
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          if (name === "content-type") head.type = value;
          else if (name === "content-length") head.length = Number(value);
          else if (name === "x-sender") head.sender = value;
        }
        if (!(head.length >= 0 && head.length <= 64 * 1024 * 1024)) throw new Error("bad part length");
        start = at + 4;
      }
      if (end - start < head.length) return null;
      const part = { type: head.type, sender: head.sender, bytes: buffer.slice(start, start + head.length) };
      start += head.length;
      head = null;
      return part;
    },
  };
}

async function runWall(controller) {
  try {
    const response = await fetch("/wall.mjpg", { signal: controller.signal, cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const reader = response.body.getReader();
    const parts = partReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      for (let part = parts.next(); part !== null; part = parts.next()) {
        if (part.sender && mode === "wall") showTileFrame(tileFor(part.sender), part);
      }
    }
  } catch {
    // Ended, or the server went away: retried below unless stopped.
  }
  if (wallAbort !== controller) return;
  wallAbort = null;
  clearTimeout(wallRetry);
  wallRetry = setTimeout(() => { if (online && mode === "wall") startWall(); }, 1000);
}
function startWall() {
  if (wallAbort !== null) return;
  wallAbort = new AbortController();
  runWall(wallAbort);
}
function stopWall() {
  clearTimeout(wallRetry);
  const controller = wallAbort;
  wallAbort = null;
  if (controller) controller.abort();
}

/** Shows a part on its tile; while one decodes, only the newest waits. */
function showTileFrame(tile, part) {
  tile.next = part;
  if (!tile.loading) pumpTile(tile);
}
function pumpTile(tile) {
  const part = tile.next;
  if (!part) return;
  tile.next = null;
  tile.loading = true;
  const url = URL.createObjectURL(new Blob([part.bytes], { type: part.type }));
  const done = () => {
    if (tile.url) URL.revokeObjectURL(tile.url);
    tile.url = url;
    tile.loading = false;
    tile.el.dataset.shown = String(++tile.shown);
    if (tiles.get(tile.sender) === tile) pumpTile(tile);
    else URL.revokeObjectURL(url);
  };
  tile.img.onload = done;
  tile.img.onerror = done;
  tile.img.src = url;
}

function snapshotIcon() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "14");
  svg.setAttribute("height", "14");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", "M8 2v8M4.5 6.5 8 10l3.5-3.5M3 13.5h10");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.8");
  path.setAttribute("stroke-linecap", "round");
  svg.append(path);
  return svg;
}

function tileFor(sender) {
  let tile = tiles.get(sender);
  if (tile) return tile;
  const el = document.createElement("div");
  el.className = "tile";
  el.tabIndex = 0;
  el.setAttribute("role", "button");
  el.dataset.sender = sender;
  el.dataset.shown = "0";
  el.title = "Show " + sender + " alone";
  const image = document.createElement("img");
  image.alt = "Newest frame from " + sender;
  const top = document.createElement("div");
  top.className = "tile-top";
  const name = span("tile-name mono", "");
  const dot = span("dot", "");
  dot.style.setProperty("--c", colorFor(sender));
  name.append(dot, sender);
  const badge = span("badge", "");
  badge.hidden = true;
  const snap = document.createElement("a");
  snap.className = "snap";
  snap.download = "";
  snap.title = "Snapshot of " + sender;
  snap.setAttribute("aria-label", "Snapshot of " + sender);
  snap.href = "/latest.jpg" + senderQuery(sender) + "&download=1";
  snap.append(snapshotIcon());
  top.append(name, badge, snap);
  const info = document.createElement("div");
  info.className = "tile-info mono";
  el.append(image, top, info);
  el.addEventListener("click", (event) => {
    if (!event.target.closest(".snap")) go(sender);
  });
  el.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      go(sender);
    }
  });
  wallEl.append(el);
  tile = { sender, el, img: image, badge, info, url: "", loading: false, next: null, shown: 0 };
  tiles.set(sender, tile);
  layoutWall();
  return tile;
}

function removeTile(tile, forgotten) {
  tiles.delete(tile.sender);
  if (forgotten) colorOf.delete(tile.sender);
  tile.el.remove();
  if (tile.url && !tile.loading) URL.revokeObjectURL(tile.url);
}

function linkParts(s) {
  const parts = [];
  if (s.lost !== null) parts.push("lost " + fmt(s.lost));
  if (s.late !== null) parts.push("late " + fmt(s.late));
  if (s.latencyMs !== null) parts.push(Math.round(s.latencyMs) + " ms");
  if (s.protocol) parts.push(s.protocol);
  return parts;
}

function updateTile(tile, s) {
  tile.el.classList.toggle("stale", s.stale);
  tile.badge.hidden = !s.stale;
  if (s.stale) tile.badge.textContent = "stale " + Math.round(s.lastFrameAgoMs / 1000) + " s";
  const items = [];
  if (s.width) items.push(s.width + "×" + s.height);
  items.push(fmtRate(s.fps) + " fps");
  for (const part of linkParts(s)) items.push(part);
  const text = items.join("|");
  if (tile.info.dataset.text !== text) {
    tile.info.dataset.text = text;
    tile.info.replaceChildren(...items.map((item) => span("", item)));
  }
}

/** Chooses columns and rows that give the tiles the largest picture. */
function layoutWall() {
  const count = tiles.size;
  if (count === 0 || mode !== "wall") return;
  const width = wallEl.clientWidth;
  const height = wallEl.clientHeight;
  let aspect = 16 / 9;
  const known = stats && stats.senders.find((s) => s.width && s.height);
  if (known) aspect = known.width / known.height;
  let best = { cols: 1, rows: count, area: -1 };
  for (let cols = 1; cols <= count; cols++) {
    const rows = Math.ceil(count / cols);
    const w = (width - 10 * (cols - 1)) / cols;
    const h = (height - 10 * (rows - 1)) / rows;
    const pictureWidth = Math.min(w, h * aspect);
    const area = pictureWidth * pictureWidth / aspect;
    if (area > best.area) best = { cols, rows, area };
  }
  wallEl.style.setProperty("--cols", String(best.cols));
  wallEl.style.setProperty("--rows", String(best.rows));
}
new ResizeObserver(layoutWall).observe(wallEl);

function renderWall() {
  const live = new Set();
  for (const s of stats.senders) {
    live.add(s.sender);
    updateTile(tileFor(s.sender), s);
  }
  for (const tile of [...tiles.values()]) {
    if (!live.has(tile.sender)) removeTile(tile, true);
  }
  layoutWall();
}

function setStatus(kind, text) {
  const pill = $("status");
  pill.className = "pill " + kind;
  pill.querySelector("b").textContent = text;
}

function focusName() {
  return mode === "wall" ? "" : selectedSender() || (stats && stats.selected) || "";
}

function render() {
  const wasOnline = online;
  online = true;
  document.body.classList.remove("lost");
  $("banner").hidden = true;
  $("gone").hidden = true;
  const selected = selectedSender();
  const wall = mode === "wall";
  const sender = wall ? undefined : stats.senders.find((s) => s.sender === focusName());
  wallEl.hidden = !wall;
  const showFrame = !wall && sender !== undefined;
  img.hidden = !showFrame;
  $("caption").hidden = !showFrame;
  $("waiting").hidden = wall || sender !== undefined;
  $("waiting-title").textContent = selected ? "Waiting for " + selected + "…" : "Waiting for frames…";
  if (showFrame && (!wasOnline || streamFor !== selected || !img.getAttribute("src"))) startStream(selected);
  if (wall) {
    renderWall();
    if (!wasOnline) startWall();
  }
  $("to-wall").hidden = mode !== "focus";
  const snapshot = $("snapshot");
  snapshot.hidden = !showFrame;
  if (showFrame) snapshot.href = "/latest.jpg" + senderQuery(sender.sender) + "&download=1";
  const count = stats.senders.length;
  const staleCount = stats.senders.filter((s) => s.stale).length;
  $("view-label").textContent = wall
    ? count + " senders · click one to show it alone"
    : sender ? "from " + sender.sender : "";

  $("res-card").hidden = wall;
  $("senders-card").hidden = !wall;
  $("senders").textContent = staleCount ? count - staleCount + "/" + count : String(count);
  $("fps").textContent = wall ? fmtRate(stats.fps) : sender ? fmtRate(sender.fps) : "–";
  $("kbps").textContent = wall ? fmt(Math.round(stats.kbps)) : sender ? fmt(Math.round(sender.kbps)) : "–";
  $("res").textContent = sender && sender.width ? sender.width + "×" + sender.height : "–";
  $("frames").textContent = fmt(sender ? sender.frames : stats.frames);
  $("dropped").textContent = fmt(stats.dropped);
  $("errors").textContent = fmt(stats.errors);
  const lostKnown = (wall ? stats.senders : sender ? [sender] : []).filter((s) => s.lost !== null);
  $("lost-card").hidden = lostKnown.length === 0;
  $("lost").textContent = fmt(lostKnown.reduce((sum, s) => sum + s.lost, 0));
  const latency = !wall && sender && sender.latencyMs !== null ? sender.latencyMs : null;
  $("latency-card").hidden = latency === null;
  if (latency !== null) $("latency").textContent = String(Math.round(latency));
  $("detail").textContent = "decoded " + fmt(stats.decoded) + " · skipped " + fmt(stats.skipped) +
    " · received " + fmt(Math.round(stats.bytes / 1000)) + " KB · " + count + (count === 1 ? " sender" : " senders") +
    " · all " + stats.fps.toFixed(1) + " fps · " + stats.viewers + (stats.viewers === 1 ? " viewer" : " viewers");
  if (sender) {
    $("caption").textContent = [sender.sender, sender.format.toUpperCase()]
      .concat(sender.width ? [sender.width + "×" + sender.height] : [])
      .concat([fmt(sender.frames) + (sender.frames === 1 ? " frame" : " frames")])
      .concat(linkParts(sender)).join(" · ");
  }
  const paused = sender !== undefined && sender.stale;
  $("paused").hidden = !paused;
  if (paused) $("paused").textContent = "No new frames for " + Math.round(sender.lastFrameAgoMs / 1000) + " s";
  if (wall) {
    if (staleCount === count) setStatus("paused", "Paused");
    else setStatus("live", "Live · " + (count - staleCount) + " senders");
  } else if (!sender) setStatus("wait", selected ? "Waiting for " + selected : "Waiting for frames");
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

// Plots of the last minute, drawn as SVG paths.
function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}
function linePath(values, capacity, max) {
  const step = 240 / Math.max(capacity - 1, 1);
  let d = "";
  let pen = false;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null) { pen = false; continue; }
    const x = 240 - (values.length - 1 - i) * step;
    const y = 55 - Math.min(value / max, 1) * 53;
    d += (pen ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
    pen = true;
  }
  return d;
}
function drawPlot(id, lines, now) {
  const plot = $("plot-" + id);
  const shown = lines.filter((line) => line.values && line.values.length > 0);
  plot.hidden = shown.length === 0 && id === "latency";
  let max = 0;
  for (const line of shown) for (const value of line.values) if (value !== null && value > max) max = value;
  max = niceMax(max);
  const group = plot.querySelector(".lines");
  group.replaceChildren(...shown.map((line) => {
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("class", line.dashed ? "line dashed" : "line");
    path.setAttribute("stroke", line.color);
    path.setAttribute("d", linePath(line.values, hist.capacity, max));
    const title = document.createElementNS(SVG, "title");
    title.textContent = line.label;
    path.append(title);
    return path;
  }));
  $("plot-" + id + "-now").textContent = (now === null ? "" : now + " · ") + "max " + fmt(max);
}
function last(values) {
  if (!values) return null;
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}
function drawPlots() {
  if (!hist || !stats) return;
  const wall = mode === "wall";
  const names = wall ? stats.senders.map((s) => s.sender) : [focusName()];
  const series = names.map((name) => ({ name, color: colorFor(name), h: hist.senders[name] })).filter((s) => s.h);
  const lines = (key, dashed) => series.filter((s) => s.h[key]).map((s) => ({ values: s.h[key], color: s.color, label: s.name + " " + key, dashed }));
  const one = !wall && series[0] ? series[0].h : null;
  // On the wall, all senders together too, dashed.
  const total = (key) => wall ? [{ values: hist.total[key], color: TOTAL_COLOR, label: "all senders " + key, dashed: true }] : [];
  const now = (key, format) => format(last(one ? one[key] : hist.total[key]) || 0) + (wall ? " all" : "");
  drawPlot("fps", total("fps").concat(lines("fps", false)), now("fps", fmtRate));
  drawPlot("kbps", total("kbps").concat(lines("kbps", false)), now("kbps", (n) => fmt(Math.round(n))));
  const loss = [{ values: hist.total.dropped, color: DROPPED_COLOR, label: "dropped, all senders" }]
    .concat(lines("lost", false)).concat(lines("late", true));
  drawPlot("loss", loss, fmtRate(last(hist.total.dropped) || 0) + " dropped");
  const latency = lines("latencyMs", false);
  drawPlot("latency", latency, one && last(one.latencyMs) !== null ? Math.round(last(one.latencyMs)) + " ms" : null);
  $("plots-meta").textContent = wall ? "all senders" : names[0] || "";
}

function lost(message) {
  online = false;
  stopWall();
  document.body.classList.add("lost");
  const banner = $("banner");
  banner.textContent = message || "Connection to the server lost. Retrying… Is the server still running?";
  banner.hidden = false;
  $("gone").hidden = false;
  $("waiting").hidden = true;
  $("paused").hidden = true;
  setStatus("lost", message ? "Refused" : "Connection lost");
}

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store", signal: AbortSignal.timeout(3000) });
  if (response.status === 401 || response.status === 403) {
    const error = new Error((await response.text()).trim());
    error.refused = true;
    throw error;
  }
  if (!response.ok) throw new Error("HTTP " + response.status);
  return await response.json();
}

// One request at a time, so that a tab holds at most its stream and one poll.
let pollTimer = 0;
let polling = false;
let pollAgain = false;
function pollSoon() {
  if (polling) pollAgain = true;
  else poll();
}
async function poll() {
  clearTimeout(pollTimer);
  polling = true;
  try {
    const selected = selectedSender();
    stats = await getJson("/stats" + (selected ? senderQuery(selected) : ""));
    apply();
    if (Date.now() - lastHistoryAt >= HISTORY_EVERY_MS) {
      lastHistoryAt = Date.now();
      const name = focusName();
      hist = await getJson("/history" + (name ? senderQuery(name) : ""));
      drawPlots();
    }
  } catch (error) {
    lost(error && error.refused ? error.message : "");
  }
  polling = false;
  if (pollAgain) {
    pollAgain = false;
    poll();
  } else {
    pollTimer = setTimeout(poll, config.pollMs);
  }
}
poll();
`;

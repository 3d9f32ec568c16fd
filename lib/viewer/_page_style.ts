/**
 * The viewer page's CSS.
 *
 * @module
 */

/** The style sheet, inlined into the page. */
export const PAGE_STYLE = `
:root {
  --bg: #0b1120; --panel: #111a2e; --card: #16213a; --line: #24304a;
  --text: #e2e8f0; --muted: #8b9ab3; --accent: #38bdf8; --ok: #34d399;
  --warn: #fbbf24; --bad: #f87171;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; min-height: 100%; background: var(--bg); color: var(--text); }
body { display: flex; flex-direction: column; height: 100vh; }
.mono, pre, code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace; }
.muted { color: var(--muted); }
header { display: flex; align-items: center; justify-content: space-between; gap: 10px 16px;
  padding: 12px 20px; border-bottom: 1px solid var(--line); background: #0d1426; flex-wrap: wrap; }
.brand { display: flex; align-items: baseline; gap: 10px; }
.logo { width: 12px; height: 12px; border-radius: 3px; background: var(--accent);
  box-shadow: 0 0 12px var(--accent); align-self: center; }
h1 { font-size: 18px; margin: 0; font-weight: 650; letter-spacing: .2px; }
.sub { color: var(--muted); font-size: 13px; }
.controls { display: flex; align-items: center; gap: 10px 14px; flex-wrap: wrap; font-size: 13px; min-width: 0; }
#view-label { overflow-wrap: anywhere; }
.btn { background: var(--card); color: var(--text); border: 1px solid var(--line); border-radius: 8px;
  padding: 6px 12px; font: inherit; cursor: pointer; text-decoration: none; white-space: nowrap; }
.btn:hover, .btn:focus-visible { border-color: var(--accent); color: var(--accent); outline: none; }
.pill { display: inline-flex; align-items: center; gap: 8px; padding: 5px 12px; border-radius: 999px;
  font-size: 12px; font-weight: 600; background: var(--card); border: 1px solid var(--line); white-space: nowrap; }
.pill i { width: 8px; height: 8px; border-radius: 50%; background: var(--muted); }
.pill.live i { background: var(--ok); box-shadow: 0 0 8px var(--ok); animation: pulse 1.6s infinite; }
.pill.live { color: var(--ok); }
.pill.wait i { background: var(--accent); } .pill.wait { color: var(--accent); }
.pill.paused i { background: var(--warn); } .pill.paused { color: var(--warn); }
.pill.lost i { background: var(--bad); } .pill.lost { color: var(--bad); }
@keyframes pulse { 50% { opacity: .35; } }
.banner { background: #3b1219; color: #fecaca; border-bottom: 1px solid #7f1d1d;
  padding: 10px 20px; font-size: 14px; }
main { flex: 1; display: grid; grid-template-columns: minmax(0, 1fr) clamp(300px, 25vw, 440px); gap: 20px;
  padding: 20px; min-height: 0; }
.stage { position: relative; background: #060a14; border: 1px solid var(--line); border-radius: 14px;
  display: flex; align-items: center; justify-content: center; overflow: hidden; min-height: 320px; }
.stage > img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; display: block; }
body.lost .stage img { opacity: .25; filter: grayscale(1); }
.stage > img[data-broken] { visibility: hidden; }
.wall { position: absolute; inset: 10px; display: grid; gap: 10px;
  grid-template-columns: repeat(var(--cols, 2), minmax(0, 1fr));
  grid-template-rows: repeat(var(--rows, 1), minmax(0, 1fr)); }
.tile { position: relative; background: #000; border: 1px solid var(--line); border-radius: 10px;
  overflow: hidden; cursor: pointer; min-width: 0; min-height: 0; }
.tile:hover, .tile:focus-visible { border-color: var(--accent); outline: none; box-shadow: 0 0 0 1px var(--accent); }
.tile img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: contain; display: block; }
.tile.stale img { opacity: .45; filter: grayscale(1); }
.tile-top, .tile-info { position: absolute; left: 6px; right: 6px; display: flex; gap: 6px; align-items: center;
  font-size: 12px; pointer-events: none; }
.tile-top { top: 6px; }
.tile-info { bottom: 6px; flex-wrap: wrap; }
.tile-top > *, .tile-info > * { background: rgba(11,17,32,.8); padding: 3px 7px; border-radius: 6px; }
.tile-name { display: flex; align-items: center; gap: 6px; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.dot { width: 8px; height: 8px; border-radius: 50%; flex: none; background: var(--c, var(--accent)); }
.tile .badge { color: var(--warn); font-weight: 600; white-space: nowrap; }
.tile .snap { margin-left: auto; pointer-events: auto; color: var(--text); text-decoration: none; }
.tile .snap:hover { color: var(--accent); }
.gone h2 { color: var(--bad); margin: 12px 0 8px; font-size: 20px; font-weight: 600; }
.gone p { color: var(--muted); margin: 0; }
.gone .mark { width: 38px; height: 38px; margin: 0 auto; border-radius: 50%; border: 3px solid var(--bad);
  color: var(--bad); font-weight: 700; font-size: 22px; line-height: 32px; }
.waiting, .gone { text-align: center; position: relative; max-width: 520px; padding: 24px; }
.waiting h2 { margin: 16px 0 8px; font-size: 20px; font-weight: 600; overflow-wrap: anywhere; }
.waiting p { color: var(--muted); margin: 8px 0; line-height: 1.5; }
.spinner { width: 38px; height: 38px; margin: 0 auto; border-radius: 50%;
  border: 3px solid var(--line); border-top-color: var(--accent); animation: spin 1s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
pre.cmd { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
  text-align: left; color: var(--accent); font-size: 13px; white-space: pre-wrap; word-break: break-all; margin: 10px 0; }
.overlay { position: absolute; top: 12px; left: 50%; transform: translateX(-50%); background: rgba(11,17,32,.85);
  border: 1px solid var(--warn); color: var(--warn); padding: 6px 14px; border-radius: 999px; font-size: 13px; white-space: nowrap; }
.caption { position: absolute; left: 12px; right: 12px; bottom: 12px; width: fit-content; max-width: calc(100% - 24px);
  background: rgba(11,17,32,.78); padding: 5px 10px; border-radius: 8px; font-size: 12px; color: var(--text); }
aside { display: flex; flex-direction: column; gap: 16px; min-width: 0; min-height: 0; overflow-y: auto; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { flex: 1 0 auto; min-width: 72px; background: var(--card); border: 1px solid var(--line);
  border-radius: 12px; padding: 10px 11px; }
.card span { display: block; color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .08em;
  white-space: nowrap; }
.card b { display: block; font-size: 20px; font-weight: 650; margin-top: 4px; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.detail { font-size: 12px; margin: -4px 2px 0; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 14px;
  display: flex; flex-direction: column; font-size: 13px; flex: none; }
.panel:last-child { flex: 1 1 0; min-height: 150px; }
.panel-head { display: flex; justify-content: space-between; align-items: baseline; gap: 4px 12px;
  flex-wrap: wrap; margin-bottom: 10px; }
.panel-head span { font-size: 12px; }
h3 { margin: 0; white-space: nowrap; font-size: 13px; text-transform: uppercase; letter-spacing: .08em; color: var(--muted); }
.plots { gap: 8px; }
.plot-head { display: flex; justify-content: space-between; gap: 8px; font-size: 12px; color: var(--muted); }
.plot-head b { font-weight: 500; color: var(--text); }
.plot svg { display: block; width: 100%; height: 48px; margin-top: 2px; background: #0b1324; border-radius: 6px; }
.plot .grid { stroke: var(--line); stroke-width: 1; fill: none; vector-effect: non-scaling-stroke; }
.plot .line { fill: none; stroke-width: 1.6; stroke-linejoin: round; vector-effect: non-scaling-stroke; }
.plot .line.dashed { stroke-dasharray: 4 3; }
pre.json { margin: 0; overflow: auto; color: #c4f1d8; font-size: 13px; line-height: 1.45; flex: 1 1 0; min-height: 0; }
@media (max-width: 900px) {
  body { height: auto; }
  main { grid-template-columns: minmax(0, 1fr); padding: 12px; gap: 14px; }
  header { padding: 10px 12px; }
  .stage { min-height: 240px; }
  aside { overflow: visible; }
  .panel:last-child { flex: none; min-height: 0; }
  pre.json { flex: none; max-height: 50vh; }
  body.wall-view .stage { display: block; min-height: 0; }
  body.wall-view .wall { position: static; padding: 8px;
    grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); grid-template-rows: none; }
  body.wall-view .tile { aspect-ratio: 4 / 3; }
}
`;

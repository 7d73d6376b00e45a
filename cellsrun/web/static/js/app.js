// The page: reads the filter state from the URL, loads the newest entries (100 at a time,
// older ones by cursor), the volume picture, the detail on click, and Live (server-sent events).
import { ApiError, getJson } from "./api.js";
import * as chart from "./chart.js";
import * as detail from "./detail.js";
import { $, clear, el, localIso, plural } from "./dom.js";
import * as filters from "./filters.js";
import { apiParams, go, read, tzOffset } from "./state.js";
import { rowFor } from "./table.js";

const LIMIT = 100;
const AUTO_CONTINUE = 30;  // a page cut short by the server's time budget is continued this often
const MAX_ROWS = 2000;    // rows kept while Live adds new ones on top: the newest (the oldest
                          // are dropped, and load again with "Older entries")

let state = read();
let next = null;        // cursor of the next (older) page
let before = null;      // else the id of the oldest row kept: older entries continue from it
const skipped = new Set();  // the server's warnings (files skipped) shown in the notice
let head = null;        // where Live starts: the live file's end when the first page was read
let shown = 0;
let generation = 0;     // a newer load makes an older one's answers void
let source = null;      // the EventSource while Live is on

function banner(message, kind = "error") {
  const box = $("banner");
  clear(box);
  if (!message) { box.hidden = true; return; }
  box.className = `banner banner-${kind}`;
  box.append(el("span", { text: message }));
  if (message && kind === "error" && /authentication|log in/i.test(message)) {
    box.append(" ", el("a", { href: "/login", text: "Log in again" }));
  }
  box.hidden = false;
}

// The files the reader skipped (unreadable, not a regular file, damaged): a notice above the
// table that blocks nothing; it gathers the warnings of every answer until the view changes.
function warn(texts) {
  let added = false;
  for (const text of texts || []) {
    if (!skipped.has(text)) { skipped.add(text); added = true; }
  }
  if (!added) return;
  const box = $("notice");
  clear(box);
  box.append(el("button", { type: "button", class: "close", "aria-label": "Dismiss", text: "×",
    onclick: () => { box.hidden = true; } }));
  box.append(el("strong", { text: skipped.size === 1 ? "A log file was skipped:" : `${skipped.size} log files were skipped:` }));
  const list = el("ul");
  for (const text of skipped) list.append(el("li", { text }));
  box.append(list, el("span", { class: "hint", text: "The entries of the other files are shown." }));
  box.hidden = false;
}

function status(text) {
  $("status").textContent = text;
}

function updateCount() {
  $("count").textContent = shown ? `${plural(shown, "entry", "entries")} shown, newest first` : "";
}

function showEmpty() {
  const empty = $("empty");
  clear(empty);
  const active = $("chips").childElementCount;
  empty.append(el("strong", { text: active ? "No entries match these filters." : "No entries yet." }));
  empty.append(el("span", { text: active
    ? " Remove a filter (×) or pick another period."
    : " The log directory holds no entries so far." }));
  empty.hidden = false;
}

async function openDetail(entry) {
  try {
    detail.open(await getJson("/api/entry", new URLSearchParams({ id: entry.id })));
  } catch (err) {
    banner(err.message);
  }
}

function append(entries) {
  const body = $("rows");
  const frag = document.createDocumentFragment();
  for (const entry of entries) frag.append(rowFor(entry, openDetail));
  body.append(frag);
  shown += entries.length;
}

async function loadPage(first) {
  const mine = generation;
  const older = $("older");
  older.hidden = true;
  let got = 0;
  for (let round = 0; round < AUTO_CONTINUE; round++) {
    status(first && round === 0 ? "Loading…" : "Searching older entries…");
    const params = apiParams(state, { limit: String(LIMIT - got) });
    if (before && !first && round === 0) params.set("before", before);
    else if (!first || round > 0) params.set("cursor", next);
    const page = await getJson("/api/entries", params);
    if (mine !== generation) return;
    if (first && round === 0) {
      head = page.head;
      $("where").textContent = page.hosts ? `${plural(page.hosts.length, "host")}: ${page.hosts.join(", ")}` : page.dir;
      if (page.hosts && !document.querySelector("#grid th.c-host")) {
        document.querySelector("#grid th.c-date").after(el("th", { class: "c-host", text: "Host" }));
      }
      filters.setHosts(page.hosts);
      $("where").title = `${page.dir} (${plural(page.files, "file")} for this filter)`;
    }
    warn(page.warnings);
    append(page.entries);
    if (first && round === 0) performance.mark("cellsrun:first-rows");  // read by tests/bench/bench_web.py
    got += page.entries.length;
    next = page.next;
    before = null;
    if (!next || got >= LIMIT) break;
  }
  status(next ? "" : shown ? "Beginning of the logs reached." : "");
  older.hidden = !next;
  if (!shown) showEmpty();
  updateCount();
}

async function loadStats() {
  const mine = generation;
  try {
    const stats = await getJson("/api/stats", apiParams(state, { tz: tzOffset() }));
    if (mine !== generation) return;
    warn(stats.warnings);
    chart.render(stats, (from, to) => {
      const nextState = { ...state, from: localIso(from), to: localIso(to) };
      delete nextState.day; delete nextState.around; delete nextState.minutes;
      go(nextState);
    });
  } catch (err) {
    if (mine === generation) chart.render(null);
  }
}

function exportLinks() {
  $("export-csv").href = `/api/export.csv?${apiParams(state, { tz: tzOffset() })}`;
  $("export-ndjson").href = `/api/export.ndjson?${apiParams(state)}`;
}

async function load() {
  generation += 1;
  state = read();
  stopLive(false);
  filters.renderChips(state);
  exportLinks();
  clear($("rows"));
  $("empty").hidden = true;
  banner(null);
  skipped.clear();
  $("notice").hidden = true;
  shown = 0;
  next = null;
  before = null;
  head = null;
  updateCount();
  loadStats();
  try {
    await loadPage(true);
    if ($("live").checked) startLive();
  } catch (err) {
    failed(err);
  }
}

function failed(err) {
  status("");
  const message = err instanceof ApiError || err.message ? err.message : String(err);
  banner(message);
  $("empty").hidden = true;
}

function startLive() {
  stopLive(false);
  const params = apiParams(state);
  if (head) params.set("from", head);
  source = new EventSource(`/api/events?${params}`);
  $("live").checked = true;
  document.body.classList.add("is-live");
  source.addEventListener("entries", (ev) => {
    const entries = JSON.parse(ev.data);
    const body = $("rows");
    $("empty").hidden = true;
    for (const entry of entries) {
      const tr = rowFor(entry, openDetail);
      tr.classList.add("fresh");
      body.prepend(tr);
    }
    shown += entries.length;
    trim();
    updateCount();
  });
  source.addEventListener("warning", (ev) => warn([JSON.parse(ev.data).error]));
  source.addEventListener("problem", (ev) => {
    banner(JSON.parse(ev.data).error);
    stopLive(true);
  });
  source.addEventListener("error", () => {
    banner("Live view interrupted (server stopped or unreachable); turn Live on again to resume.", "warning");
    stopLive(true);
  });
}

// Keep the newest MAX_ROWS rows: the oldest go, and "Older entries" continues from the oldest kept.
function trim() {
  const body = $("rows");
  if (body.rows.length <= MAX_ROWS) return;
  while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
  shown = body.rows.length;
  before = body.lastElementChild.dataset.id;
  next = null;
  $("older").hidden = false;
  status(`Live keeps the newest ${MAX_ROWS.toLocaleString()} rows; older ones load again with "Older entries".`);
}

function stopLive(uncheck) {
  // What a closed stream delivered is on screen: a new stream must not start from the old
  // head again (it would repeat them), so turning Live on again reloads the first page.
  if (source) { source.close(); source = null; head = null; }
  document.body.classList.remove("is-live");
  if (uncheck) $("live").checked = false;
}

function around(ts) {
  const nextState = { q: [], around: new Date(ts * 1000).toISOString(), minutes: "5" };
  go(nextState);
}

function setup() {
  filters.setup(() => state);
  detail.setup(around);
  $("older").addEventListener("click", () => loadPage(false).catch(failed));
  $("live").addEventListener("change", () => {
    if ($("live").checked) {
      // Live continues from what is shown: new entries since the first page, then as written.
      if (head) startLive(); else load();
    } else stopLive(false);
  });
  $("export-btn").addEventListener("click", (ev) => {
    ev.stopPropagation();
    filters.toggleMenu($("export-btn"), $("export-menu"));
  });
  window.addEventListener("popstate", load);
  window.addEventListener("statechange", load);
  load();
}

setup();

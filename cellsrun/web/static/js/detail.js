// The detail window: every field of an entry, the raw line, and "±5 minutes around".
import { $, clear, el, localDate } from "./dom.js";

const FIRST = ["ts", "level", "logger", "msg"];
let onAround = null;
let currentTs = null;
let opener = null;

export function setup(around) {
  onAround = around;
  const close = () => hide();
  $("detail-close").addEventListener("click", close);
  $("detail-done").addEventListener("click", close);
  $("overlay").addEventListener("click", (ev) => { if (ev.target.id === "overlay") close(); });
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && !$("overlay").hidden) close(); });
  $("detail-around").addEventListener("click", () => {
    if (currentTs !== null) { hide(); onAround(currentTs); }
  });
}

function show(text) {
  return typeof text === "string" ? text : JSON.stringify(text, null, 2);
}

export function open(detail) {
  opener = document.activeElement;
  currentTs = detail.ts;
  $("detail-title").textContent = `${(detail.level || "entry").toUpperCase()} · ${localDate(detail.ts, true) || "no time"}`;
  const body = $("detail-fields");
  clear(body);
  const rows = [["Date (local)", localDate(detail.ts, true)], ["Host", detail.host], ["Service", detail.service]];
  const keys = Object.keys(detail.fields || {});
  keys.sort((a, b) => {
    const ia = FIRST.indexOf(a); const ib = FIRST.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
  for (const key of keys) rows.push([key, show(detail.fields[key])]);
  for (const [key, value] of rows) {
    if (value === "" || value === undefined || value === null) continue;
    body.append(el("tr", {}, el("th", { text: key }), el("td", {}, el("span", { class: "value", text: value }))));
  }
  $("detail-raw").textContent = detail.raw;
  $("detail-around").disabled = detail.ts === null || detail.ts === undefined;
  $("overlay").hidden = false;
  $("detail-done").focus();
}

export function hide() {
  $("overlay").hidden = true;
  if (opener && opener.focus) opener.focus();
}

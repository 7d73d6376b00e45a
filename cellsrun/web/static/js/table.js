// The table: Date (browser's local time), Host (several log directories only), Level (coloured),
// IP, User, Service, Message
// (cut by CSS in the row; whole in the detail). Text only: textContent via el().
import { el } from "./dom.js";
import { localDate } from "./dom.js";

// The year is its own span so that a narrow screen can drop it (CSS) and keep the time.
function dateCell(ts) {
  const text = localDate(ts);
  return el("td", { class: "c-date", title: text }, el("span", { class: "yr", text: text.slice(0, 5) }), text.slice(5));
}

export function rowFor(entry, onOpen) {
  const level = entry.level || "";
  const tr = el("tr", { tabindex: 0, class: `lvl-${level || "none"}`, title: "Open the detail", "data-id": entry.id },
    dateCell(entry.ts),
    entry.host === undefined ? null : el("td", { class: "c-host", text: entry.host }),
    el("td", { class: "c-level" }, level ? el("span", { class: `badge badge-${level}`, text: level.toUpperCase() }) : null),
    el("td", { class: "c-ip", text: entry.ip }),
    el("td", { class: "c-user", text: entry.user }),
    el("td", { class: "c-service", text: entry.service }),
    el("td", { class: "c-msg", text: entry.cut ? `${entry.msg}…` : entry.msg }));
  tr.addEventListener("click", () => onOpen(entry));
  tr.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); onOpen(entry); }
  });
  return tr;
}

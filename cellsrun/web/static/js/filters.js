// The filter-type menu (Cells' inverted triangle), the editor for the chosen type, and the
// chips that show the active filters (AND), each removable.
import { $, clear, el, localDate, localIso } from "./dom.js";
import { go } from "./state.js";

const LEVELS = ["debug", "info", "warn", "error", "dpanic", "panic", "fatal"];

const TYPES = [
  { key: "q", label: "Full text" },
  { key: "day", label: "Pick one day" },
  { key: "period", label: "Time period" },
  { key: "level", label: "Level" },
  { key: "service", label: "Service" },
  { key: "user", label: "User login" },
  { key: "ip", label: "IP" },
  { key: "host", label: "Host" },
];

let current = {};
let hostNames = [];  // the hosts the server reads (several log directories), else none
let stateOf = null;  // the current filter state (given to setup)

function menuItem(type) {
  return el("button", { type: "button", role: "menuitem", "data-type": type.key, text: type.label,
    onclick: () => { closeMenus(); openEditor(type.key, stateOf()); } });
}

// Called with the first page's host list: the Host filter is offered only when there are hosts.
export function setHosts(names) {
  hostNames = names || [];
  if (hostNames.length && !document.querySelector('#filter-menu [data-type="host"]')) {
    $("filter-menu").append(menuItem(TYPES.find((t) => t.key === "host")));
  }
}

export function setup(getState) {
  const button = $("filter-btn");
  const menu = $("filter-menu");
  stateOf = getState;
  for (const type of TYPES) if (type.key !== "host") menu.append(menuItem(type));
  button.addEventListener("click", (ev) => { ev.stopPropagation(); toggleMenu(button, menu); });
  document.addEventListener("click", (ev) => {
    if (!ev.target.closest(".menu-wrap")) closeMenus();
  });
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") closeMenus(); });
}

export function toggleMenu(button, menu) {
  const open = menu.hidden;
  closeMenus();
  menu.hidden = !open;
  button.setAttribute("aria-expanded", String(open));
}

export function closeMenus() {
  for (const menu of document.querySelectorAll(".menu")) menu.hidden = true;
  for (const b of document.querySelectorAll("[aria-haspopup]")) b.setAttribute("aria-expanded", "false");
}

function field(label, input) {
  return el("label", { class: "field" }, el("span", { text: label }), input);
}

function openEditor(type, state) {
  current = { ...state, q: [...(state.q || [])] };
  const form = $("editor");
  clear(form);
  const inputs = {};
  const title = TYPES.find((t) => t.key === type).label;
  form.append(el("strong", { class: "editor-title", text: title }));
  if (type === "q") {
    inputs.q = el("input", { type: "search", name: "q", placeholder: "words in the line", required: true });
    form.append(field("Contains", inputs.q));
  } else if (type === "day") {
    inputs.day = el("input", { type: "date", name: "day", required: true, value: state.day || localIso(new Date()).slice(0, 10) });
    form.append(field("Day", inputs.day));
  } else if (type === "period") {
    inputs.from = el("input", { type: "datetime-local", name: "from", step: 1, value: state.from || "" });
    inputs.to = el("input", { type: "datetime-local", name: "to", step: 1, value: state.to || "" });
    form.append(field("From", inputs.from), field("To", inputs.to));
  } else if (type === "level") {
    const [op, name] = splitLevel(state.level);
    inputs.op = el("select", { name: "op" }, el("option", { value: "", text: "exactly" }), el("option", { value: ">=", text: "at least" }));
    inputs.op.value = op === ">=" ? ">=" : "";
    inputs.level = el("select", { name: "level" }, ...LEVELS.map((l) => el("option", { value: l, text: l.toUpperCase() })));
    inputs.level.value = name || "warn";
    form.append(field("Match", inputs.op), field("Level", inputs.level));
  } else if (type === "host") {
    inputs.host = el("select", { name: "host" }, ...hostNames.map((h) => el("option", { value: h, text: h })));
    if (state.host) inputs.host.value = state.host;
    form.append(field("Host", inputs.host));
  } else {
    const hints = { service: "e.g. grpc.auth (part of the logger)", user: "exact user login", ip: "exact address" };
    inputs[type] = el("input", { type: "text", name: type, placeholder: hints[type], required: true, value: state[type] || "" });
    form.append(field(title, inputs[type]));
  }
  form.append(el("button", { type: "submit", class: "btn btn-primary", text: "Apply" }),
    el("button", { type: "button", class: "btn", text: "Cancel", onclick: () => { form.hidden = true; } }));
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const next = { ...current };
    if (type === "q") next.q = [...next.q, inputs.q.value.trim()].filter(Boolean);
    else if (type === "day") { next.day = inputs.day.value; delete next.around; delete next.minutes; }
    else if (type === "period") {
      for (const k of ["from", "to"]) { if (inputs[k].value) next[k] = inputs[k].value; else delete next[k]; }
      delete next.around; delete next.minutes;
    } else if (type === "level") next.level = `${inputs.op.value}${inputs.level.value}`;
    else if (type === "host") next.host = inputs.host.value;
    else next[type] = inputs[type].value.trim();
    for (const k of Object.keys(next)) if (next[k] === "") delete next[k];
    form.hidden = true;
    go(next);
  };
  form.hidden = false;
  const first = form.querySelector("input, select");
  if (first) first.focus();
}

function splitLevel(level) {
  if (!level) return ["", ""];
  const m = /^(>=|<=|>|<|=)?\s*(.*)$/.exec(level);
  return [m[1] === "=" ? "" : (m[1] || ""), m[2]];
}

function describeTime(text) {
  return text.replace("T", " ");
}

// One chip per active filter; a chip's x removes that filter.
export function renderChips(state) {
  const chips = $("chips");
  clear(chips);
  const add = (label, value, remove) => {
    chips.append(el("span", { class: "chip" }, el("span", { class: "chip-label", text: `${label}: ` }),
      el("span", { class: "chip-value", text: value }),
      el("button", { type: "button", class: "chip-x", "aria-label": `Remove ${label} filter`, title: "Remove", text: "×",
        onclick: () => { const next = { ...state, q: [...(state.q || [])] }; remove(next); go(next); } })));
  };
  (state.q || []).forEach((term, i) => add("Text", term, (s) => s.q.splice(i, 1)));
  if (state.day) add("Day", state.day, (s) => delete s.day);
  if (state.from || state.to) {
    add("Period", `${state.from ? describeTime(state.from) : "…"} → ${state.to ? describeTime(state.to) : "…"}`,
      (s) => { delete s.from; delete s.to; });
  }
  if (state.around) {
    const t = Date.parse(state.around);
    add("Around", `${Number.isNaN(t) ? state.around : localDate(t / 1000)} ±${state.minutes || 5} min`,
      (s) => { delete s.around; delete s.minutes; });
  }
  if (state.level) {
    const [op, name] = splitLevel(state.level);
    const ops = { ">=": "≥ ", ">": "> ", "<=": "≤ ", "<": "< " };
    add("Level", `${ops[op] || ""}${name.toUpperCase()}`, (s) => delete s.level);
  }
  if (state.service) add("Service", state.service, (s) => delete s.service);
  if (state.user) add("User", state.user, (s) => delete s.user);
  if (state.ip) add("IP", state.ip, (s) => delete s.ip);
  if (state.host) add("Host", state.host, (s) => delete s.host);
  return chips.childElementCount;
}

// DOM helpers. Log text is hostile: it only ever becomes a text node (textContent),
// never markup. Nothing in this app assigns innerHTML.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
}

export function $(id) {
  return document.getElementById(id);
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

// "2026-11-27 13:32:18" in the browser's local time (epoch seconds in).
export function localDate(ts, withMillis = false) {
  if (ts === null || ts === undefined) return "";
  const d = new Date(ts * 1000);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMillis ? `${text}.${pad(d.getMilliseconds(), 3)}` : text;
}

// "2026-11-27T13:32:18": a local datetime as the URL keeps it (and datetime-local inputs take).
export function localIso(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

// The filter state lives in the URL (a link reproduces the view; Back works).
// URL keys: q (repeatable), day (YYYY-MM-DD), from / to (local YYYY-MM-DDTHH:MM[:SS]),
// level ("error" or ">=warn"), service, user, ip, around (ISO time) with minutes, host (a
// directory's name, when the page shows several).

export const KEYS = ["q", "day", "from", "to", "level", "service", "user", "ip", "around", "minutes", "host"];

export function read(search = location.search) {
  const params = new URLSearchParams(search);
  const state = { q: params.getAll("q").filter((t) => t.trim() !== "") };
  for (const key of KEYS.slice(1)) {
    const value = params.get(key);
    if (value !== null && value !== "") state[key] = value;
  }
  return state;
}

export function toSearch(state) {
  const params = new URLSearchParams();
  for (const term of state.q || []) params.append("q", term);
  for (const key of KEYS.slice(1)) if (state[key] !== undefined) params.set(key, state[key]);
  const text = params.toString();
  return text ? `?${text}` : location.pathname;
}

export function go(state) {
  history.pushState(null, "", toSearch(state));
  window.dispatchEvent(new Event("statechange"));
}

// Local wall-clock text -> Date. "to" ends are inclusive: a minute means its last millisecond.
function parseLocal(text, end) {
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:T(\d\d):(\d\d)(?::(\d\d))?)?$/.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  if (h === undefined) {
    return end ? new Date(+y, +mo - 1, +d + 1, 0, 0, 0, -1) : new Date(+y, +mo - 1, +d);
  }
  const date = new Date(+y, +mo - 1, +d, +h, +mi, s === undefined ? 0 : +s);
  if (end) date.setTime(date.getTime() + (s === undefined ? 59999 : 999));
  return date;
}

// The API's parameters for a state: local times become absolute (ISO, UTC) so the server's
// zone does not matter; a day and a period together give the period both allow.
export function apiParams(state, extra = {}) {
  const params = new URLSearchParams();
  for (const term of state.q || []) params.append("q", term);
  let since = null;
  let until = null;
  const narrow = (lo, hi) => {
    if (lo && (!since || lo > since)) since = lo;
    if (hi && (!until || hi < until)) until = hi;
  };
  if (state.day) narrow(parseLocal(state.day, false), parseLocal(state.day, true));
  if (state.from || state.to) {
    narrow(state.from ? parseLocal(state.from, false) : null, state.to ? parseLocal(state.to, true) : null);
  }
  if (state.day && !parseLocal(state.day, false)) params.set("day", state.day);  // let the server say why
  if (since) params.set("since", since.toISOString());
  if (until) params.set("until", until.toISOString());
  for (const key of ["level", "service", "user", "ip", "around", "minutes", "host"]) {
    if (state[key] !== undefined) params.set(key, state[key]);
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined && value !== null) params.set(key, value);
  }
  return params;
}

export function tzOffset() {
  return String(-new Date().getTimezoneOffset());
}

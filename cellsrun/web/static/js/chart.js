// The volume picture: entries per minute / hour / day, stacked by level, for the filter.
// A click on a bar narrows the period to that bar.
import { $, clear, el, localDate, plural } from "./dom.js";

const ORDER = ["fatal", "panic", "dpanic", "error", "warn", "info", "debug"];
const UNIT = { 60: "minute", 600: "10 minutes", 3600: "hour", 86400: "day" };

export function render(stats, onPick) {
  const box = $("chart");
  const bars = $("bars");
  clear(bars);
  clear($("axis"));
  clear($("legend"));
  if (!stats || !stats.bars.length) { box.hidden = true; return; }
  box.hidden = false;
  const levels = stats.levels;
  const peak = Math.max(...stats.bars.map(([, counts]) => counts.reduce((a, b) => a + b, 0)));
  const unit = UNIT[stats.bucket] || `${stats.bucket} s`;
  $("chart-title").textContent = `${plural(stats.total, "entry", "entries")} · per ${unit}` +
    (stats.partial ? " (partial: counting took too long)" : "");
  const present = new Set();
  // Fill empty buckets between the first and last so time reads left to right evenly.
  const byStart = new Map(stats.bars.map(([t, c]) => [t, c]));
  const first = stats.bars[0][0];
  const last = stats.bars[stats.bars.length - 1][0];
  const starts = [];
  const maxBars = 400;
  if ((last - first) / stats.bucket < maxBars) {
    for (let t = first; t <= last; t += stats.bucket) starts.push(t);
  } else {
    starts.push(...stats.bars.map(([t]) => t));
  }
  for (const start of starts) {
    const counts = byStart.get(start) || levels.map(() => 0);
    const total = counts.reduce((a, b) => a + b, 0);
    const parts = ORDER.map((name) => [name, counts[levels.indexOf(name)] || 0]).filter(([, n]) => n);
    parts.forEach(([name]) => present.add(name));
    const label = `${localDate(start)} – ${plural(total, "entry", "entries")}` +
      (parts.length ? ` (${parts.map(([n, c]) => `${n} ${c}`).join(", ")})` : "");
    const bar = el("button", { type: "button", class: "bar", title: label, "aria-label": label,
      onclick: () => onPick(new Date(start * 1000), new Date((start + stats.bucket) * 1000 - 1000)) });
    const stack = el("span", { class: "stack" });
    stack.style.height = `${peak ? Math.max(total ? 2 : 0, (100 * total) / peak) : 0}%`;
    for (const [name, n] of parts) {
      const seg = el("span", { class: `seg seg-${name}` });
      seg.style.flexGrow = String(n);
      stack.append(seg);
    }
    bar.append(stack);
    bars.append(bar);
  }
  const axis = $("axis");
  const ticks = [starts[0], starts[Math.floor(starts.length / 2)], starts[starts.length - 1]];
  const fmt = (t) => (stats.bucket >= 86400 ? localDate(t).slice(0, 10) : localDate(t).slice(0, 16));
  for (const t of [...new Set(ticks)]) axis.append(el("span", { text: fmt(t) }));
  for (const name of ORDER.filter((n) => present.has(n))) {
    $("legend").append(el("span", { class: "key" }, el("span", { class: `dot seg-${name}` }), name));
  }
}

// Small hand-made SVG charts for the admin dashboard: vertical bars over
// time and horizontal stacked bars. Each chart is drawn at its container's
// width so that text keeps its size on a phone; a <title> on every bar
// gives its figure on hover, and the chart's aria-label sums it up.

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c.nodeType ? c : document.createTextNode(String(c)));
  return e;
}

const widthOf = (box) => Math.max(260, Math.floor(box.clientWidth || 300));

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v);
}

// bars draws values[i] as bars; labelAt(i) returns an x-axis label or ''
// for the bars that get one; colorAt(i) picks a bar's colour; tip(i) is the
// bar's hover text; fmt formats the y axis.
// With integer, only whole-number gridlines are drawn.
// A values[i] that is an array draws a group of bars side by side at i;
// colorAt(i, j) and tip(i, j) then get the bar's place j in its group.
export function bars(box, { values, labelAt, colorAt = () => '#0a7c4a', tip, fmt = String, label, empty, integer }) {
  const W = widthOf(box), H = 170, left = 44, right = 6, top = 10, bottom = 22;
  const groups = values.map((v) => (Array.isArray(v) ? v : [v]));
  const all = groups.flat();
  const top1 = niceMax(Math.max(0, ...all));
  const plotW = W - left - right, plotH = H - top - bottom;
  const bw = plotW / values.length;
  const y = (v) => top + plotH - (v / top1) * plotH;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label });
  for (const v of [0, top1 / 2, top1].filter((x) => !integer || Number.isInteger(x))) {
    svg.append(s('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), stroke: '#0000001f' }),
      s('text', { x: left - 4, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  }
  groups.forEach((g, i) => {
    const x = left + i * bw, gap = Math.min(1, bw * 0.1), sw = (bw - 2 * gap) / g.length;
    g.forEach((v, j) => {
      if (v > 0) {
        svg.append(s('rect', { x: x + gap + j * sw, y: y(v), width: Math.max(1, sw - (g.length > 1 ? 0 : Math.min(2, bw * 0.2) - 2 * gap)),
          height: top + plotH - y(v), fill: colorAt(i, j), rx: 1 }, s('title', {}, tip(i, j))));
      }
    });
    const l = labelAt(i);
    if (l) svg.append(s('text', { x: x + bw / 2, y: H - 6, 'text-anchor': 'middle' }, l));
  });
  if (all.every((v) => !v) && empty) svg.append(s('text', { x: left + plotW / 2, y: top + plotH / 2, 'text-anchor': 'middle' }, empty));
  box.replaceChildren(svg);
}

// stacked draws one horizontal bar per row, split into parts by key, with a
// legend of the keys under it.
export function stacked(box, { rows, keys, colors, keyLabel, fmt = String, label, empty }) {
  const W = widthOf(box), rowH = 38, left = 4, right = 60;
  const total = (r) => keys.reduce((n, k) => n + (r.parts[k] || 0), 0);
  const top1 = Math.max(1, ...rows.map(total));
  const H = Math.max(40, rows.length * rowH + 4);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label });
  rows.forEach((r, i) => {
    const y0 = i * rowH + 4;
    svg.append(s('text', { x: left, y: y0 + 11 }, r.label));
    let x = left;
    keys.forEach((k, j) => {
      const v = r.parts[k] || 0;
      if (!v) return;
      const w = (v / top1) * (W - left - right);
      svg.append(s('rect', { x, y: y0 + 15, width: Math.max(1, w), height: 16, fill: colors[j % colors.length] },
        s('title', {}, `${r.label} · ${keyLabel(k)}: ${fmt(v)}`)));
      x += w;
    });
    svg.append(s('text', { x: x + 4, y: y0 + 28 }, fmt(total(r))));
  });
  if (!rows.length && empty) svg.append(s('text', { x: W / 2, y: 24, 'text-anchor': 'middle' }, empty));
  const legend = document.createElement('div');
  legend.className = 'legend';
  keys.forEach((k, j) => {
    const item = document.createElement('span');
    const sw = document.createElement('i');
    sw.style.background = colors[j % colors.length];
    item.append(sw, keyLabel(k));
    legend.append(item);
  });
  box.replaceChildren(svg, legend);
}

// legend is a row of coloured keys for a bars chart.
export function legend(box, items) {
  const div = document.createElement('div');
  div.className = 'legend';
  for (const [color, text] of items) {
    const item = document.createElement('span');
    const sw = document.createElement('i');
    sw.style.background = color;
    item.append(sw, text);
    div.append(item);
  }
  box.append(div);
}

/**
 * A line chart drawn by hand as inline SVG (no plotting library: a few hundred bytes of
 * code instead of vega's megabyte).
 */
export interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
  /** Draw markers only (e.g. for per-iteration accuracies). */
  dots?: boolean;
}

const NS = 'http://www.w3.org/2000/svg';

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text != null) e.textContent = text;
  return e;
}

function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log && hi / lo < 10) return ticks(lo, hi, false);
  if (log) {
    const out: number[] = [];
    for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) out.push(10 ** p);
    return out.filter((t) => t >= lo / 1.0001 && t <= hi * 1.0001);
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= 6) ?? step * 10;
  const out: number[] = [];
  for (let t = Math.ceil(lo / nice) * nice; t <= hi + 1e-9; t += nice) out.push(t);
  return out;
}

const format = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(0) : String(Number(v.toPrecision(3))));

/**
 * Redraws `svg` with the series; `logY` puts y on a log scale (non-positive values dropped).
 */
export function drawChart(svg: SVGSVGElement, series: Series[], options: { xLabel: string; yLabel: string; logY?: boolean }): void {
  const [width, height] = [420, 220];
  const m = { left: 56, right: 10, top: 22, bottom: 34 };
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const log = options.logY === true;
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!log || y > 0));
  if (pts.length === 0) {
    svg.append(el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'axis' }, 'waiting for the first iteration…'));
    return;
  }
  const fy = (y: number) => (log ? Math.log10(y) : y);
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => fy(p[1]))), Math.max(...pts.map((p) => fy(p[1])))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [y0 - pad, y1 + pad];
  const sx = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (width - m.left - m.right);
  const sy = (y: number) => height - m.bottom - ((fy(y) - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  svg.append(el('rect', { x: m.left, y: m.top, width: width - m.left - m.right, height: height - m.top - m.bottom, class: 'frame' }));
  for (const t of ticks(x0, x1, false)) {
    svg.append(el('text', { x: sx(t), y: height - m.bottom + 14, 'text-anchor': 'middle', class: 'axis' }, format(t)));
  }
  for (const t of ticks(log ? 10 ** y0 : y0, log ? 10 ** y1 : y1, log)) {
    svg.append(el('line', { x1: m.left, x2: width - m.right, y1: sy(t), y2: sy(t), class: 'grid' }));
    svg.append(el('text', { x: m.left - 4, y: sy(t) + 4, 'text-anchor': 'end', class: 'axis' }, format(t)));
  }
  svg.append(el('text', { x: (m.left + width - m.right) / 2, y: height - 4, 'text-anchor': 'middle', class: 'label' }, options.xLabel));
  svg.append(el('text', { x: 12, y: (m.top + height - m.bottom) / 2, 'text-anchor': 'middle', class: 'label', transform: `rotate(-90 12 ${(m.top + height - m.bottom) / 2})` }, options.yLabel));
  series.forEach((s, k) => {
    const ok = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!log || y > 0));
    if (!s.dots && ok.length > 0) svg.append(el('polyline', { points: ok.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2 }));
    for (const [x, y] of ok) svg.append(el('circle', { cx: sx(x), cy: sy(y), r: s.dots ? 3 : 2, fill: s.color }));
    svg.append(el('text', { x: m.left + 70 * k, y: m.top - 8, fill: s.color, class: 'legend' }, s.label));
  });
}

/**
 * Chart primitives for report.html: a line chart and a heatmap, each returned
 * as an inline <svg> string with axes, tick labels and a legend. Colours are
 * CSS classes (`s0`, `s1`, `cell`), so the page's stylesheet decides light and
 * dark mode; nothing here loads anything. Every label goes through escapeHtml.
 */

import { escapeHtml } from '../html.ts';

/** Coordinates with one decimal: enough for a screen, and keeps 100-class matrices small. */
const c = (v: number): string => String(Math.round(v * 10) / 10);

interface Scale {
  lo: number;
  hi: number;
  step: number;
  ticks: number[];
}

/** Ticks at 1, 2, 2.5 or 5 × 10^k covering [lo, hi] in about `count` steps. A flat range is widened so it still has ticks. */
function niceScale(lo: number, hi: number, count = 5): Scale {
  if (!(hi - lo > 1e-12)) {
    const pad = Math.abs(hi) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9))!;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  // toPrecision drops the float noise of i * step (0.30000000000000004).
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { lo: ticks[0]!, hi: ticks.at(-1)!, step, ticks };
}

export interface Series {
  name: string;
  /** One value per x; NaN or ±Infinity leaves a gap in the line. */
  values: readonly number[];
}

export interface LineChartSpec {
  /** The accessible name of the chart. */
  title: string;
  x: readonly number[];
  xLabel: string;
  /** Drawn in order, styled by the classes s0, s1, … */
  series: readonly Series[];
  /** Formats a value for tick labels and tooltips; `step` is the tick spacing, to choose decimals. */
  format: (value: number, step: number) => string;
  includeZero?: boolean;
  /** Limits the y axis, e.g. [0, 1] for a fraction. */
  clamp?: readonly [number, number];
  /** The least y range shown, so a near-flat curve is not magnified into noise. */
  minSpan?: number;
  /** A vertical mark at x, with a ring on one series' point. */
  marker?: { x: number; label: string; series: number };
}

const LINE = { width: 400, height: 240, left: 44, right: 12, top: 32, bottom: 40 };
/** Above this many points, dots would crowd the line; isolated points keep theirs so they stay visible. */
const MAX_DOTS = 40;

/** Integer x ticks (epochs) at a nice step, starting at the first x when it is not too close to the next tick. */
function integerTicks(lo: number, hi: number): number[] {
  if (hi === lo) return [lo];
  const step = Math.max(1, Math.ceil(niceScale(lo, hi, 6).step));
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
  if (ticks[0] !== lo && (ticks[0] ?? Infinity) - lo >= step / 2) ticks.unshift(lo);
  return ticks;
}

export function lineChart(spec: LineChartSpec): string {
  const { width, height, left, right, top, bottom } = LINE;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const finite = spec.series.flatMap((s) => s.values.filter(Number.isFinite));
  let lo = finite.length > 0 ? Math.min(...finite) : 0;
  let hi = finite.length > 0 ? Math.max(...finite) : 1;
  if (spec.includeZero) lo = Math.min(lo, 0);
  if (spec.minSpan && hi - lo < spec.minSpan) {
    const [floor, ceiling] = spec.clamp ?? [-Infinity, Infinity];
    lo = Math.max(floor, Math.min((lo + hi - spec.minSpan) / 2, ceiling - spec.minSpan));
    hi = lo + spec.minSpan;
  }
  const y = niceScale(lo, hi);
  if (spec.clamp) {
    y.lo = Math.max(y.lo, spec.clamp[0]);
    y.hi = Math.min(y.hi, spec.clamp[1]);
    y.ticks = y.ticks.filter((t) => t >= y.lo && t <= y.hi);
  }
  const xLo = Math.min(...spec.x);
  const xHi = Math.max(...spec.x);
  // A single epoch sits in the middle rather than on the axis.
  const [dLo, dHi] = xHi > xLo ? [xLo, xHi] : [xLo - 1, xLo + 1];
  const px = (v: number) => left + ((v - dLo) / (dHi - dLo)) * plotW;
  const py = (v: number) => top + plotH - ((v - y.lo) / (y.hi - y.lo)) * plotH;
  const parts: string[] = [];

  for (const t of y.ticks) {
    parts.push(`<line class="grid" x1="${left}" x2="${left + plotW}" y1="${c(py(t))}" y2="${c(py(t))}"/>`);
    parts.push(`<text class="tick" x="${left - 6}" y="${c(py(t))}" dy=".32em" text-anchor="end">${escapeHtml(spec.format(t, y.step))}</text>`);
  }
  for (const t of integerTicks(xLo, xHi)) {
    parts.push(`<line class="axis" x1="${c(px(t))}" x2="${c(px(t))}" y1="${top + plotH}" y2="${top + plotH + 4}"/>`);
    parts.push(`<text class="tick" x="${c(px(t))}" y="${top + plotH + 15}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<line class="axis" x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}"/>`);
  parts.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}"/>`);
  parts.push(`<text class="axis-title" x="${left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`);

  const m = spec.marker;
  const marked = m ? spec.series[m.series]?.values[spec.x.indexOf(m.x)] : undefined;
  if (m) {
    const x = c(px(m.x));
    const anchor = px(m.x) > left + plotW * 0.6 ? 'end' : 'start';
    const dx = anchor === 'end' ? -5 : 5;
    // The label goes to whichever end of the line is away from the marked point, so it never covers it.
    const low = marked !== undefined && Number.isFinite(marked) && py(marked) > top + plotH * 0.6;
    parts.push(`<line class="marker" x1="${x}" x2="${x}" y1="${top}" y2="${top + plotH}"/>`);
    parts.push(`<text class="marker-label" x="${x}" dx="${dx}" y="${low ? top + 12 : top + plotH - 8}" text-anchor="${anchor}">${escapeHtml(m.label)}</text>`);
  }

  spec.series.forEach((s, i) => {
    const points = spec.x.map((x, k) => ({ x, v: s.values[k] ?? NaN }));
    const segments: (typeof points)[] = [[]];
    for (const p of points) {
      if (Number.isFinite(p.v)) segments.at(-1)!.push(p);
      else if (segments.at(-1)!.length > 0) segments.push([]);
    }
    for (const seg of segments.filter((g) => g.length > 0)) {
      parts.push(`<polyline class="line s${i}" points="${seg.map((p) => `${c(px(p.x))},${c(py(p.v))}`).join(' ')}"/>`);
      if (points.length > MAX_DOTS && seg.length > 1) continue;
      for (const p of seg) {
        const tip = `${s.name}, ${spec.xLabel.toLowerCase()} ${p.x}: ${spec.format(p.v, y.step / 10)}`;
        parts.push(`<circle class="dot s${i}" cx="${c(px(p.x))}" cy="${c(py(p.v))}" r="3"><title>${escapeHtml(tip)}</title></circle>`);
      }
    }
  });
  if (m && marked !== undefined && Number.isFinite(marked)) {
    parts.push(`<circle class="ring s${m.series}" cx="${c(px(m.x))}" cy="${c(py(marked))}" r="6.5"/>`);
  }

  let lx = left;
  spec.series.forEach((s, i) => {
    const empty = s.values.some(Number.isFinite) ? '' : ' (no data)';
    parts.push(`<line class="line s${i}" x1="${lx}" x2="${lx + 18}" y1="14" y2="14"/>`);
    parts.push(`<text class="legend" x="${lx + 24}" y="14" dy=".32em">${escapeHtml(s.name + empty)}</text>`);
    lx += 24 + (s.name.length + empty.length) * 7 + 18;
  });

  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(spec.title)}"><title>${escapeHtml(spec.title)}</title>${parts.join('')}</svg>`;
}

export interface HeatmapSpec {
  title: string;
  labels: readonly string[];
  /** Rows are the true class, columns the predicted one. */
  matrix: readonly (readonly number[])[];
  /** Counts are written in the cells up to this many classes; above it, only the tooltips carry them. */
  countsUpTo: number;
}

const LABEL_CHARS = 18;

function shorten(label: string): string {
  const chars = Array.from(label);
  return chars.length > LABEL_CHARS ? `${chars.slice(0, LABEL_CHARS - 1).join('')}…` : label;
}

const percent = (f: number): string => `${(f * 100).toFixed(f > 0 && f < 0.01 ? 1 : 0)}%`;

/** A confusion matrix coloured by each row's fraction, so a rare class's mistakes show as clearly as a common one's. */
export function heatmap(spec: HeatmapSpec): string {
  const n = spec.labels.length;
  const cell = Math.min(44, Math.max(6, Math.floor(480 / Math.max(n, 1))));
  const font = Math.min(12, Math.max(4, cell * 0.7));
  const longest = Math.max(1, ...spec.labels.map((l) => Array.from(shorten(l)).length));
  const labelW = longest * font * 0.55;
  const rotate = labelW > cell - 4;
  const grid = n * cell;
  const left = labelW + 34;
  const top = 8;
  const bottom = (rotate ? labelW * 0.71 + font : font) + 34;
  const width = left + grid + 74;
  const height = top + Math.max(grid, 90) + bottom;
  const parts: string[] = [`<rect class="heat-bg" x="${c(left)}" y="${top}" width="${grid}" height="${grid}"/>`];
  const showCounts = n <= spec.countsUpTo;
  const countFont = Math.min(13, cell * 0.36);

  spec.matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, j) => {
      const f = total > 0 ? count / total : 0;
      // Any non-zero count stays visible, however small its share.
      const opacity = count > 0 ? 0.08 + 0.92 * f : 0;
      const x = left + j * cell;
      const y = top + i * cell;
      const tip = `true ${spec.labels[i]} → predicted ${spec.labels[j]}: ${count} (${percent(f)} of ${spec.labels[i]})`;
      parts.push(`<rect class="cell${i === j ? ' diag' : ''}" x="${c(x)}" y="${y}" width="${cell}" height="${cell}" fill-opacity="${opacity.toFixed(2)}"><title>${escapeHtml(tip)}</title></rect>`);
      if (showCounts) {
        const tone = count === 0 ? 'zero' : opacity > 0.55 ? 'hi' : 'lo';
        parts.push(`<text class="count ${tone}" x="${c(x + cell / 2)}" y="${c(y + cell / 2)}" dy=".35em" text-anchor="middle" font-size="${c(countFont)}">${count}</text>`);
      }
    });
  });

  spec.labels.forEach((label, k) => {
    const name = `${escapeHtml(shorten(label))}<title>${escapeHtml(label)}</title>`;
    parts.push(`<text class="tick" x="${c(left - 6)}" y="${c(top + (k + 0.5) * cell)}" dy=".35em" text-anchor="end" font-size="${c(font)}">${name}</text>`);
    const cx = c(left + (k + 0.5) * cell);
    const cy = c(top + grid + 6 + font * 0.8);
    const turn = rotate ? ` transform="rotate(-45 ${cx} ${cy})" text-anchor="end"` : ' text-anchor="middle"';
    parts.push(`<text class="tick" x="${cx}" y="${cy}" dy="${rotate ? '.35em' : '0'}"${turn} font-size="${c(font)}">${name}</text>`);
  });
  parts.push(`<text class="axis-title" transform="translate(12 ${c(top + grid / 2)}) rotate(-90)" text-anchor="middle">True class</text>`);
  parts.push(`<text class="axis-title" x="${c(left + grid / 2)}" y="${c(height - 8)}" text-anchor="middle">Predicted class</text>`);

  // The colour scale: a share of the true class, 0 at the bottom.
  const sx = c(left + grid + 20);
  const barH = Math.max(grid, 90);
  parts.push(`<defs><linearGradient id="heat-scale" x1="0" y1="1" x2="0" y2="0"><stop offset="0" class="stop" stop-opacity="0.08"/><stop offset="1" class="stop" stop-opacity="1"/></linearGradient></defs>`);
  parts.push(`<rect x="${sx}" y="${top}" width="12" height="${barH}" fill="url(#heat-scale)"/>`);
  for (const f of [0, 0.5, 1]) {
    parts.push(`<text class="tick" x="${c(Number(sx) + 17)}" y="${c(top + barH * (1 - f))}" dy=".35em">${percent(f)}</text>`);
  }

  return `<svg class="heatmap${n > 40 ? ' dense' : ''}" viewBox="0 0 ${c(width)} ${c(height)}" style="max-width:${Math.ceil(width)}px;min-width:${Math.ceil(Math.min(width, 420))}px" role="img" aria-label="${escapeHtml(spec.title)}"><title>${escapeHtml(spec.title)}</title>${parts.join('')}</svg>`;
}

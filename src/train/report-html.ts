/**
 * report.html: one self-contained page drawing a TrainReport, for opening from
 * disk after `imgcls train`. Inline CSS and SVG only — no scripts, fonts or
 * links to other origins — so it works offline and can be mailed around.
 * Every string from the report goes through escapeHtml: class names come from
 * folder names and may contain markup.
 */
import type { EvaluationMetrics } from './metrics.ts';
import { escapeHtml as e } from '../html.ts';
import { heatmap, lineChart } from './report-svg.ts';
import type { TrainReport } from './report-types.ts';

/** Above this many classes the confusion matrix drops the numbers in its cells; tooltips still carry them. */
const COUNTS_UP_TO = 20;
/** Warnings and skipped images beyond this are summarised as "and N more". */
const LIST_LIMIT = 50;

const pct = (f: number): string => (Number.isFinite(f) ? `${(f * 100).toFixed(1)}%` : '—');
const dec = (f: number, digits = 3): string => (Number.isFinite(f) ? f.toFixed(digits) : '—');

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  return n >= 1024 ? `${Math.round(n / 1024)} KB` : `${n} B`;
}

const sum = (counts: Record<string, number> | undefined): number => Object.values(counts ?? {}).reduce((a, b) => a + b, 0);

/** Accuracy ticks: whole percents unless the axis is finer than that. */
const percentTick = (v: number, step: number): string => `${(v * 100).toFixed(step * 100 < 1 ? 1 : 0)}%`;
const lossTick = (v: number, step: number): string => v.toFixed(Math.max(0, -Math.floor(Math.log10(step))));

function stat(label: string, value: string, note = ''): string {
  return `<div class="stat"><div class="stat-label">${e(label)}</div><div class="stat-value">${e(value)}</div>${note ? `<div class="stat-note">${e(note)}</div>` : ''}</div>`;
}

function facts(title: string, rows: [string, string][]): string {
  return `<section class="card"><h2>${e(title)}</h2><dl>${rows.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl></section>`;
}

function summary(r: TrainReport, metrics: EvaluationMetrics, set: string): string {
  const splits = Object.entries(r.dataset.counts).map(([split, counts]) => `${split} ${sum(counts)}`).join(' · ');
  const k = Math.min(5, r.dataset.classes.length);
  const epochs = `of ${r.head.epochs_run} run${r.head.epochs_run < r.head.epochs ? ` (max ${r.head.epochs}, stopped early)` : ''}`;
  const also = r.test ? `validation ${pct(r.validation.accuracy)}` : '';
  return `<div class="stats">${[
    stat(`${set} accuracy`, pct(metrics.accuracy), `${metrics.images} images${also ? `; ${also}` : ''}`),
    // With k classes or fewer, top-k is always 100%: not worth a tile.
    k < r.dataset.classes.length ? stat(`${set} top-${k} accuracy`, pct(metrics.top5_accuracy)) : '',
    stat('Macro F1', dec(metrics.macro.f1), `weighted ${dec(metrics.weighted.f1)}`),
    stat('Best epoch', String(r.head.best_epoch), epochs),
    stat('Images', String(Object.values(r.dataset.counts).reduce((a, c) => a + sum(c), 0)), splits),
    stat('Time', duration(r.timing.total_seconds), `features ${duration(r.timing.features_seconds)}, head ${duration(r.timing.train_seconds)}`),
  ].join('')}</div>`;
}

function details(r: TrainReport): string {
  const h = r.head;
  const b = r.backbone;
  const t = r.timing;
  return `<div class="facts">${[
    facts('Dataset', [
      ['Location', r.dataset.location],
      ['Source', r.dataset.source],
      ['Classes', String(r.dataset.classes.length)],
      ...Object.entries(r.dataset.counts).map(([split, counts]): [string, string] => [`${split[0]?.toUpperCase()}${split.slice(1)} images`, String(sum(counts))]),
      ['Validation', r.dataset.validation],
    ]),
    facts('Backbone', [
      ['Model', b.name],
      ['Layer', b.layer],
      ['Pooling', b.pool],
      ['Feature size', String(b.dim)],
      ['Input', `${b.input.width} × ${b.input.height}`],
    ]),
    facts('Head', [
      ['Shape', h.hidden === null ? 'linear' : `${h.hidden} hidden units`],
      ['Epochs', `${h.epochs_run} of ${h.epochs}, patience ${h.patience}`],
      ['Batch size', String(h.batch_size)],
      ['Learning rate', String(h.lr)],
      ['Weight decay', String(h.weight_decay)],
      ['Label smoothing', String(h.label_smoothing)],
      ['Class weight', h.class_weight],
      ['Augment', String(h.augment)],
      ['Seed', String(h.seed)],
    ]),
    facts('Run', [
      ['Features', `${duration(t.features_seconds)} (${t.features_computed} computed, ${t.features_cached} cached)`],
      ['Training', duration(t.train_seconds)],
      ['Total', duration(t.total_seconds)],
      ['Model file', `${r.model.dir}/${r.model.file} (${bytes(r.model.bytes)})`],
      ['Finished', r.created],
    ]),
  ].join('')}</div>`;
}

function charts(r: TrainReport): string {
  const x = r.history.map((h) => h.epoch);
  const loss = lineChart({
    title: 'Loss per epoch, training and validation',
    x,
    xLabel: 'Epoch',
    series: [{ name: 'train', values: r.history.map((h) => h.train_loss) }, { name: 'validation', values: r.history.map((h) => h.val_loss) }],
    format: lossTick,
    includeZero: true,
  });
  const accuracy = lineChart({
    title: 'Accuracy per epoch, training and validation',
    x,
    xLabel: 'Epoch',
    series: [{ name: 'train', values: r.history.map((h) => h.train_accuracy) }, { name: 'validation', values: r.history.map((h) => h.val_accuracy) }],
    format: percentTick,
    clamp: [0, 1],
    minSpan: 0.1,
    marker: { x: r.head.best_epoch, label: `best: epoch ${r.head.best_epoch}`, series: 1 },
  });
  return `<div class="charts"><section class="card"><h2>Loss</h2>${loss}</section><section class="card"><h2>Accuracy</h2>${accuracy}</section></div>`;
}

function meter(f: number): string {
  const width = Number.isFinite(f) ? Math.max(0, Math.min(1, f)) * 100 : 0;
  return `<td class="num"><span class="meter"><span class="meter-fill" style="width:${width.toFixed(1)}%"></span></span>${dec(f)}</td>`;
}

/** Weakest classes first: they are the ones a user opens the report to find. */
function perClass(r: TrainReport, m: EvaluationMetrics, set: string): string {
  const train = r.dataset.counts.train ?? {};
  const rows = [...m.per_class]
    .sort((a, b) => a.f1 - b.f1 || a.label.localeCompare(b.label))
    .map((c) => `<tr><th scope="row">${e(c.label)}</th>${meter(c.precision)}${meter(c.recall)}${meter(c.f1)}<td class="num">${c.support}</td><td class="num">${train[c.label] ?? 0}</td></tr>`);
  const avg = (name: string, a: EvaluationMetrics['macro']) =>
    `<tr><th scope="row">${name}</th>${meter(a.precision)}${meter(a.recall)}${meter(a.f1)}<td class="num">${m.images}</td><td></td></tr>`;
  return `<section class="card"><h2>Per class <span class="muted">(${e(set.toLowerCase())}, lowest F1 first)</span></h2><div class="scroll"><table class="classes">
<thead><tr><th scope="col">Class</th><th scope="col" class="num">Precision</th><th scope="col" class="num">Recall</th><th scope="col" class="num" aria-sort="ascending">F1 ▲</th><th scope="col" class="num">Support</th><th scope="col" class="num">Train</th></tr></thead>
<tbody>${rows.join('\n')}</tbody><tfoot>${avg('macro avg', m.macro)}${avg('weighted avg', m.weighted)}</tfoot></table></div></section>`;
}

function list(title: string, items: readonly string[], none: string): string {
  if (items.length === 0) return `<section class="card"><h2>${e(title)}</h2><p class="muted">${e(none)}</p></section>`;
  const more = items.length > LIST_LIMIT ? `<p class="muted">and ${items.length - LIST_LIMIT} more</p>` : '';
  const shown = items.slice(0, LIST_LIMIT).map((item) => `<li>${e(item)}</li>`).join('');
  return `<section class="card"><h2>${e(title)} <span class="muted">(${items.length})</span></h2><ul class="list">${shown}</ul>${more}</section>`;
}

/** The whole page. Pure: the same report gives the same string. */
export function renderReportHtml(report: TrainReport): string {
  const metrics = report.test ?? report.validation;
  const set = report.test ? 'Test' : 'Validation';
  const n = metrics.confusion.labels.length;
  const matrix = heatmap({ title: `Confusion matrix, ${set.toLowerCase()} set`, labels: metrics.confusion.labels, matrix: metrics.confusion.matrix, countsUpTo: COUNTS_UP_TO });
  const hint = n > COUNTS_UP_TO ? 'Hover a cell for its count.' : 'Numbers are image counts.';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imgcls training report: ${e(report.dataset.location)}</title>
<style>${CSS}</style>
</head>
<body>
<main class="wrap">
<header class="top"><h1>Training report</h1><p class="muted">${e(report.dataset.location)} · ${report.dataset.classes.length} classes · ${e(report.backbone.name)} · finished ${e(report.created)}</p></header>
${summary(report, metrics, set)}
${charts(report)}
<section class="card"><h2>Confusion matrix <span class="muted">(${e(set.toLowerCase())}, ${metrics.images} images)</span></h2><p class="muted small">Rows are the true class, columns the prediction; colour is the share of the row. ${hint}</p><div class="scroll">${matrix}</div></section>
${perClass(report, metrics, set)}
${details(report)}
<div class="facts">${list('Dataset warnings', report.dataset.warnings, 'No warnings.')}${list('Skipped images', report.dataset.skipped, 'Every image could be read.')}</div>
<footer class="muted small">imgcls ${e(report.imgcls)}</footer>
</main>
</body>
</html>
`;
}

const CSS = `
:root{color-scheme:light dark;--bg:#f5f6f8;--surface:#fff;--text:#171a20;--muted:#5a6372;--border:#dadee5;--grid:#e6e9ef;--track:#eceff4;
--s0:#2a55e5;--s1:#e0620d;--heat:#2a55e5;--on-heat:#fff;--font:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","Liberation Sans",sans-serif}
@media (prefers-color-scheme:dark){:root{--bg:#0e1014;--surface:#171a21;--text:#e7e9ee;--muted:#9aa3b3;--border:#2b303b;--grid:#242a35;--track:#242a35;
--s0:#7d9bff;--s1:#ffa657;--heat:#7d9bff;--on-heat:#0e1014}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:15px/1.5 var(--font)}
.wrap{max-width:1000px;margin:0 auto;padding:16px}
h1{font-size:1.6rem;margin:0}h2{font-size:1.05rem;margin:0 0 10px}
.top{margin:8px 0 16px}.top p{margin:2px 0 0;overflow-wrap:anywhere}
.muted{color:var(--muted);font-weight:400}.small{font-size:.85rem}
.card{background:var(--surface);border:1px solid var(--border);border-radius:12px;padding:14px 16px;margin:0 0 16px;min-width:0}
.stats{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin-bottom:16px}
.stat{background:var(--surface);border:1px solid var(--border);border-radius:12px;padding:10px 14px}
.stat-label{color:var(--muted);font-size:.8rem}.stat-value{font-size:1.5rem;font-weight:650;font-variant-numeric:tabular-nums}.stat-note{color:var(--muted);font-size:.78rem;overflow-wrap:anywhere}
.charts,.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr));gap:0 16px}
svg{display:block;width:100%;height:auto;font-family:var(--font);font-size:11px}
svg text{fill:var(--muted)}svg .legend{fill:var(--text);font-size:12px}svg .axis-title{font-size:12px}
.grid{stroke:var(--grid)}.axis{stroke:var(--muted)}
.line{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}.dot{stroke:var(--surface);stroke-width:1}.ring{fill:none;stroke-width:2}
.s0{stroke:var(--s0)}.dot.s0{fill:var(--s0)}.s1{stroke:var(--s1)}.dot.s1{fill:var(--s1)}
.marker{stroke:var(--muted);stroke-dasharray:4 3}svg .marker-label{fill:var(--text);font-size:11px;font-weight:600}
.heatmap{margin:0 auto}.heat-bg{fill:var(--track)}.cell{fill:var(--heat);stroke:var(--surface);stroke-width:1}.dense .cell{stroke:none}.cell:hover{stroke:var(--text)}
.stop{stop-color:var(--heat)}svg .count.hi{fill:var(--on-heat);font-weight:600}svg .count.lo{fill:var(--text)}svg .count.zero{fill:var(--muted);opacity:.5}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.9rem;font-variant-numeric:tabular-nums}
th,td{padding:5px 8px;border-bottom:1px solid var(--border);text-align:left;white-space:nowrap}
thead th{color:var(--muted);font-weight:600;font-size:.8rem}tbody th{font-weight:500}tfoot th{color:var(--muted);font-weight:500}
.num{text-align:right}
.meter{display:inline-block;vertical-align:middle;width:60px;height:6px;margin-right:8px;border-radius:3px;background:var(--track);overflow:hidden}
.meter-fill{display:block;height:100%;background:var(--s0)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0;font-size:.9rem}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
.list{margin:0;padding-left:1.2em;font-size:.9rem;overflow-wrap:anywhere;max-height:24em;overflow-y:auto}
footer{margin:8px 0 24px}
@media (max-width:560px){.wrap{padding:10px}.card{padding:12px}.stats{grid-template-columns:repeat(2,1fr);gap:8px}.stat-value{font-size:1.25rem}
.meter{display:none}table{font-size:.8rem}th,td{padding:4px 5px}tbody th{white-space:normal;overflow-wrap:anywhere;min-width:7em}}
`;

/**
 * The web page's HTML, rendered on the server: the upload form for `GET /`
 * and the same page with result cards for the no-JavaScript `POST /`.
 * web/app.js builds the same card markup in the browser. Every interpolated
 * value goes through `escapeHtml`: labels come from model files and messages
 * can quote what a client sent. No inline script or style, so the page's CSP
 * can forbid both.
 */
import type { Prediction } from '../engine/postprocess.ts';
import { VERSION } from '../version.ts';
import type { Timing } from './inference.ts';
import { escapeHtml } from '../html.ts';

export interface PageError {
  code: string;
  message: string;
}

/** One image's result card. */
export interface ResultCard {
  title: string;
  /** A `data:image/jpeg;base64,...` thumbnail, or null for none. */
  thumbnail: string | null;
  predictions?: readonly Prediction[];
  error?: PageError;
}

export interface PageView {
  models: readonly string[];
  /** The model the select shows chosen. */
  selected: string | null;
  topK: string;
  limits: { fileBytes: number; files: number };
  /** A failure of the whole request: no file, an unknown model, a bad top_k. */
  error?: PageError | null;
  results?: { model: string; timing: Timing; cards: readonly ResultCard[] } | null;
}


/** A score as the page shows it: one decimal, "<0.1%" rather than a misleading "0.0%". */
function formatPercent(score: number): string {
  const pct = score * 100;
  if (pct > 0 && pct < 0.05) return '<0.1%';
  return `${pct.toFixed(1)}%`;
}

function formatMs(ms: number): string {
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

function formatBytes(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb >= 1 ? `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;
}

function predictionsHtml(predictions: readonly Prediction[]): string {
  const rows = predictions.map((p, i) => {
    const pct = formatPercent(p.score);
    const value = Math.min(100, Math.max(0, p.score * 100)).toFixed(2);
    return `<li class="pred${i === 0 ? ' pred-top' : ''}"><span class="pred-label">${escapeHtml(p.label)}</span><span class="pred-pct">${escapeHtml(pct)}</span><progress class="pred-bar" max="100" value="${value}" aria-hidden="true"></progress></li>`;
  });
  return `<ol class="preds">${rows.join('')}</ol>`;
}

/** The message and code of an error, as both the card and the page alert show them. */
function errorDetail(error: PageError): string {
  return `<span class="error-message">${escapeHtml(error.message)}</span> <code class="error-code">${escapeHtml(error.code)}</code>`;
}

function errorHtml(error: PageError): string {
  return `<p class="card-error"><span class="error-title">Could not classify this image.</span> ${errorDetail(error)}</p>`;
}

function cardHtml(card: ResultCard): string {
  const state = card.error ? 'error' : 'ok';
  const preview = card.thumbnail
    ? `<img src="${escapeHtml(card.thumbnail)}" alt="Preview of ${escapeHtml(card.title)}">`
    : '<span class="no-preview">No preview</span>';
  const body = card.error ? errorHtml(card.error) : predictionsHtml(card.predictions ?? []);
  return `<article class="card card--${state}">
<div class="card-preview">${preview}</div>
<div class="card-body"><div class="card-head"><h3 class="card-title">${escapeHtml(card.title)}</h3></div>${body}</div>
</article>`;
}

function alertHtml(error: PageError): string {
  return `<div class="alert" role="alert"><strong>Could not classify:</strong> ${errorDetail(error)}</div>`;
}

function resultsHtml(results: NonNullable<PageView['results']>): string {
  const n = results.cards.length;
  const t = results.timing;
  const summary = `<p class="summary">${n} image${n === 1 ? '' : 's'} with <strong>${escapeHtml(results.model)}</strong> · <span class="latency">${escapeHtml(formatMs(t.total_ms))} on the server</span> (decode ${escapeHtml(formatMs(t.decode_ms))}, inference ${escapeHtml(formatMs(t.inference_ms))})</p>`;
  return `${summary}\n<div class="cards">${results.cards.map(cardHtml).join('\n')}</div>`;
}

const LOGO = '<svg class="logo" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true" focusable="false"><rect x="2" y="2" width="28" height="28" rx="7" fill="currentColor"/><path d="M8 22l5-6 4 4 3-3 4 5z" fill="#fff"/><circle cx="21" cy="11" r="2.5" fill="#fff"/></svg>';

const ICON_UPLOAD = '<svg class="drop-icon" viewBox="0 0 24 24" width="36" height="36" aria-hidden="true" focusable="false"><path d="M12 16V4m0 0l-4.5 4.5M12 4l4.5 4.5M4 15v3a2 2 0 002 2h12a2 2 0 002-2v-3" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/></svg>';

/** The whole page. */
export function renderPage(view: PageView): string {
  const options = view.models
    .map((m) => `<option value="${escapeHtml(m)}"${m === view.selected ? ' selected' : ''}>${escapeHtml(m)}</option>`)
    .join('');
  const noModels = view.models.length === 0 ? '<p class="hint">The models are still loading; reload this page in a moment.</p>' : '';
  let results = '';
  if (view.error) results += alertHtml(view.error);
  if (view.results) results += resultsHtml(view.results);
  const { fileBytes, files } = view.limits;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${view.results || view.error ? 'Results · ' : ''}imgcls</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/style.css">
<script type="module" src="/static/app.js"></script>
</head>
<body>
<header class="site-header"><div class="wrap header-row">
<a class="brand" href="/">${LOGO}<span>imgcls</span></a>
<nav class="site-nav" aria-label="Site"><a href="/docs">API docs</a></nav>
</div></header>
<main class="wrap" id="main">
<h1>Classify images</h1>
<p class="lede">Pick a model, then choose, drop or paste images. Each one gets its top labels.</p>
<form id="classify-form" class="panel" method="post" action="/" enctype="multipart/form-data">
<div class="controls">
<div class="field field-model"><label for="model">Model</label><select id="model" name="model"${view.models.length === 0 ? ' disabled' : ''}>${options}</select></div>
<div class="field field-topk"><label for="top_k">Top labels</label><input id="top_k" name="top_k" type="number" min="1" max="1000" step="1" inputmode="numeric" value="${escapeHtml(view.topK)}" required></div>
</div>
${noModels}
<div class="dropzone" id="dropzone">
${ICON_UPLOAD}
<label class="drop-label" for="file"><span class="drop-title">Choose images</span><span class="drop-more"> or drop or paste them here</span></label>
<input id="file" name="file" type="file" multiple accept="image/*">
<p class="hint" id="file-hint">JPEG, PNG, WebP, GIF, TIFF or AVIF; up to ${escapeHtml(formatBytes(fileBytes))} each, ${escapeHtml(files)} at a time.</p>
</div>
<div class="actions">
<button type="submit" class="button button-primary" id="submit">Classify</button>
<button type="button" class="button button-secondary" id="clear" hidden>Clear</button>
</div>
</form>
<section class="results" id="results" aria-live="polite" aria-label="Results">${results}</section>
</main>
<footer class="site-footer"><div class="wrap">imgcls ${escapeHtml(VERSION)} · <a href="/docs">API docs</a> · <a href="/openapi.json">OpenAPI</a></div></footer>
</body>
</html>
`;
}

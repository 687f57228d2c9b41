/* global document, fetch, File, FormData, URL, HTMLElement */
/**
 * imgcls web page, enhanced. Without this script the form posts to `/` and
 * the server renders the results. With it, every image (chosen, dropped or
 * pasted) gets a card with an instant preview and is sent on its own to
 * POST /models/{model}/predict; the card then shows the top labels as bars,
 * the latency, or the server's error. Plain browser JavaScript, no build
 * step; all text goes in through textContent, never as HTML.
 */

/** How many images are in flight at once; the server batches what arrives together. */
const CONCURRENCY = 4;

const form = document.getElementById('classify-form');
if (form) init(form);

function init(form) {
  const fileInput = form.querySelector('#file');
  const dropzone = form.querySelector('#dropzone');
  const modelSelect = form.querySelector('#model');
  const topKInput = form.querySelector('#top_k');
  const clearButton = form.querySelector('#clear');
  const results = document.getElementById('results');

  /** Every image on the page: { file, url, card, seq }. */
  const items = [];
  const queue = [];
  let running = 0;

  document.documentElement.classList.add('js');
  dropzone.tabIndex = 0;
  dropzone.setAttribute('role', 'button');
  dropzone.setAttribute('aria-label', 'Choose images, or drop or paste them here');
  dropzone.setAttribute('aria-describedby', 'file-hint');
  // The zone is the control now; the hidden input stays for the chooser and for the form.
  fileInput.tabIndex = -1;
  fileInput.setAttribute('aria-hidden', 'true');
  clearButton.hidden = results.childElementCount === 0;

  dropzone.addEventListener('click', (event) => {
    // A click on the label or the input opens the chooser by itself.
    if (event.target === fileInput || event.target.closest('label')) return;
    fileInput.click();
  });
  dropzone.addEventListener('keydown', (event) => {
    if (event.target !== dropzone) return;
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      fileInput.click();
    }
  });
  fileInput.addEventListener('change', () => {
    addFiles([...fileInput.files]);
  });

  // Files can be dropped anywhere on the page; the zone lights up while they are dragged.
  let dragDepth = 0;
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes('Files');
  document.addEventListener('dragenter', (event) => {
    if (!hasFiles(event)) return;
    dragDepth += 1;
    dropzone.classList.add('dragover');
  });
  document.addEventListener('dragleave', (event) => {
    if (!hasFiles(event)) return;
    dragDepth = Math.max(0, dragDepth - 1);
    if (dragDepth === 0) dropzone.classList.remove('dragover');
  });
  document.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  document.addEventListener('drop', (event) => {
    dragDepth = 0;
    dropzone.classList.remove('dragover');
    if (!event.dataTransfer || event.dataTransfer.files.length === 0) return;
    event.preventDefault();
    addFiles([...event.dataTransfer.files]);
  });

  document.addEventListener('paste', (event) => {
    const files = event.clipboardData ? [...event.clipboardData.files] : [];
    if (files.length === 0) return;
    event.preventDefault();
    addFiles(files.map((f, i) => (f.name && f.name !== 'image.png' ? f : renameFile(f, `pasted-${Date.now()}-${i + 1}`))));
  });

  // New settings apply to the images already on the page.
  const rerun = () => {
    if (items.length === 0 || !settingsValid()) return;
    for (const item of items) enqueue(item);
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearAlert();
    if (items.length === 0) showAlert('Choose, drop or paste an image first.', 'MISSING_IMAGE');
    else rerun();
  });
  modelSelect.addEventListener('change', rerun);
  topKInput.addEventListener('change', rerun);

  clearButton.addEventListener('click', () => {
    for (const item of items) URL.revokeObjectURL(item.url);
    items.length = 0;
    queue.length = 0;
    results.replaceChildren();
    fileInput.value = '';
    clearButton.hidden = true;
    dropzone.focus();
  });

  function settingsValid() {
    if (topKInput.checkValidity()) return true;
    topKInput.reportValidity();
    return false;
  }

  function addFiles(files) {
    if (files.length === 0) return;
    clearAlert();
    // A server-rendered result (the form posted before this script ran) gives way to live cards.
    results.querySelector('.summary')?.remove();
    let list = results.querySelector('.cards');
    if (!list) {
      list = el('div', { class: 'cards' });
      results.append(list);
    }
    const fresh = files.map((file) => {
      const item = { file, url: URL.createObjectURL(file), card: null, seq: 0 };
      item.card = renderCard(item);
      return item;
    });
    // Newest first, keeping the order they were chosen in.
    list.prepend(...fresh.map((item) => item.card));
    items.unshift(...fresh);
    clearButton.hidden = false;
    // Cleared, so choosing the same file again is a change too.
    fileInput.value = '';
    if (!settingsValid()) {
      for (const item of fresh) item.card.querySelector('.card-content').replaceChildren(el('p', { class: 'status' }, 'Waiting: correct "Top labels", then press Classify.'));
      return;
    }
    for (const item of fresh) enqueue(item);
  }

  function enqueue(item) {
    item.seq += 1;
    setPending(item);
    if (!queue.includes(item)) queue.push(item);
    pump();
  }

  function pump() {
    while (running < CONCURRENCY && queue.length > 0) {
      const item = queue.shift();
      running += 1;
      classify(item).finally(() => {
        running -= 1;
        pump();
      });
    }
  }

  async function classify(item) {
    const seq = item.seq;
    const model = modelSelect.value;
    const topK = topKInput.value.trim() || '5';
    const body = new FormData();
    body.append('file', item.file, item.file.name || 'image');
    const started = performance.now();
    let response;
    let data;
    try {
      response = await fetch(`/models/${encodeURIComponent(model)}/predict?top_k=${encodeURIComponent(topK)}`, {
        method: 'POST',
        body,
        headers: { accept: 'application/json' },
      });
      data = await response.json().catch(() => null);
    } catch (err) {
      if (item.seq === seq && item.card.isConnected) showError(item, { error: 'NETWORK_ERROR', message: `Could not reach the server (${err.message}).` });
      return;
    }
    const roundTrip = performance.now() - started;
    // Settings changed while this was in flight: a newer request owns the card.
    if (item.seq !== seq || !item.card.isConnected) return;
    if (!response.ok || !data || !Array.isArray(data.predictions)) {
      showError(item, {
        error: (data && data.error) || `HTTP_${response.status}`,
        message: (data && data.message) || `The server answered ${response.status} ${response.statusText}.`,
      });
      return;
    }
    showPredictions(item, data, roundTrip);
  }

  function renderCard(item) {
    const img = el('img', { src: item.url, alt: `Preview of ${item.file.name || 'the image'}` });
    const preview = el('div', { class: 'card-preview' }, img);
    // Not every file a browser can send is one it can show (or an image at all).
    img.addEventListener('error', () => preview.replaceChildren(el('span', { class: 'no-preview' }, 'No preview')));
    return el(
      'article',
      { class: 'card' },
      preview,
      el(
        'div',
        { class: 'card-body' },
        el('div', { class: 'card-head' }, el('h3', { class: 'card-title', title: item.file.name }, item.file.name || 'Pasted image'), el('p', { class: 'card-meta' })),
        el('div', { class: 'card-content' }),
      ),
    );
  }

  function setPending(item) {
    const card = item.card;
    card.className = 'card card--pending';
    card.setAttribute('aria-busy', 'true');
    card.querySelector('.card-meta').textContent = '';
    card.querySelector('.card-content').replaceChildren(el('p', { class: 'status' }, 'Classifying…'));
  }

  function done(item, state) {
    item.card.className = `card card--${state}`;
    item.card.removeAttribute('aria-busy');
  }

  function showPredictions(item, data, roundTrip) {
    done(item, 'ok');
    const rows = data.predictions.map((p, i) => {
      const bar = el('progress', { class: 'pred-bar', max: '100', 'aria-hidden': 'true' });
      bar.value = Math.min(100, Math.max(0, p.score * 100));
      return el(
        'li',
        { class: i === 0 ? 'pred pred-top' : 'pred' },
        el('span', { class: 'pred-label' }, p.label),
        el('span', { class: 'pred-pct' }, formatPercent(p.score)),
        bar,
      );
    });
    const server = data.timing ? `${formatMs(data.timing.total_ms)} on the server · ` : '';
    item.card.querySelector('.card-meta').textContent = `${data.model} · ${server}${formatMs(roundTrip)} round trip`;
    item.card.querySelector('.card-content').replaceChildren(el('ol', { class: 'preds' }, ...rows));
  }

  function showError(item, { error, message }) {
    done(item, 'error');
    item.card.querySelector('.card-meta').textContent = '';
    item.card.querySelector('.card-content').replaceChildren(
      el('p', { class: 'card-error' }, el('span', { class: 'error-title' }, 'Could not classify this image.'), ' ', ...errorDetail(message, error)),
    );
  }

  function showAlert(message, code) {
    results.prepend(el('div', { class: 'alert', role: 'alert' }, el('strong', {}, 'Could not classify:'), ' ', ...errorDetail(message, code)));
  }

  /** The message and code of an error, as both the card and the page alert show them. */
  function errorDetail(message, code) {
    return [el('span', { class: 'error-message' }, message), ' ', el('code', { class: 'error-code' }, code)];
  }

  function clearAlert() {
    for (const alert of results.querySelectorAll('.alert')) alert.remove();
  }
}

/** An element with attributes and children (strings become text nodes, so nothing is parsed as HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  node.append(...children.filter((c) => c instanceof HTMLElement || typeof c === 'string'));
  return node;
}

function renameFile(file, base) {
  const ext = (file.type.split('/')[1] || 'png').replace(/[^a-z0-9]/gi, '');
  return new File([file], `${base}.${ext}`, { type: file.type });
}

/** As the server renders it (src/server/page-html.ts). */
function formatPercent(score) {
  const pct = score * 100;
  if (pct > 0 && pct < 0.05) return '<0.1%';
  return `${pct.toFixed(1)}%`;
}

function formatMs(ms) {
  return ms >= 100 ? `${Math.round(ms)} ms` : `${ms.toFixed(1)} ms`;
}

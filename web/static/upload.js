// Upload page: one action — choosing (or dropping) files starts their
// upload at once; no second button. Each file gets a progress bar while it
// uploads (XMLHttpRequest upload progress) and while the server reads it
// (POST /api/v1/uploads?async=1, then polling GET /api/v1/uploads/{id}),
// one bar shows all files together, and as soon as a file is in, the
// headline result (GET /upload/headline) shows at the top of the page. A
// file without Outlook events is a warning, not a success. Without this
// script the form posts all files at once and the server redirects to the
// results.
(function () {
  'use strict';
  var form = document.getElementById('upload-form');
  if (!form || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var input = document.getElementById('file');
  var zone = document.getElementById('dropzone');
  var section = document.getElementById('upload-progress');
  var list = document.getElementById('upload-list');
  var summary = document.getElementById('upload-summary');
  var overall = document.getElementById('upload-overall');
  var done = document.getElementById('upload-done');
  var labelText = document.getElementById('file-label-text');
  var submit = document.getElementById('upload-submit');
  var headline = document.getElementById('upload-headline');
  var maxBytes = parseInt(form.getAttribute('data-max'), 10) || 0;
  var concurrency = 2;
  var queue = [];
  var items = [];
  var running = 0;
  var total = 0;
  var finished = 0;
  var newEvents = 0;
  var failures = 0;
  var empty = 0;
  var headlineSeq = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  function fmtBytes(n) {
    if (n >= 1073741824) { return (n / 1073741824).toFixed(1) + ' GiB'; }
    if (n >= 1048576) { return (n / 1048576).toFixed(1) + ' MiB'; }
    if (n >= 1024) { return (n / 1024).toFixed(1) + ' KiB'; }
    return n + ' B';
  }

  function plural(n, one, many) {
    return n + ' ' + (n === 1 ? one : many);
  }

  // The bar of all files: each file weighs its size; sending it is the
  // first half of its share, the server reading it the second.
  function updateOverall() {
    var sum = 0;
    var got = 0;
    for (var i = 0; i < items.length; i++) {
      var w = Math.max(1, items[i].file.size);
      sum += w;
      got += w * items[i].frac;
    }
    var pct = sum > 0 ? Math.round(got / sum * 100) : 0;
    if (finished === total) {
      pct = 100;
    }
    overall.value = pct;
    overall.textContent = pct + ' %';
    overall.setAttribute('aria-valuetext', pct + ' % of ' + plural(total, 'file', 'files'));
    return pct;
  }

  function updateSummary() {
    var pct = updateOverall();
    var s = pct + ' % · ' + finished + ' of ' + plural(total, 'file', 'files') + ' done';
    if (finished > 0) {
      s += ' · ' + plural(newEvents, 'new event', 'new events');
    }
    if (empty > 0) {
      s += ' · ' + plural(empty, 'file', 'files') + ' without Outlook events';
    }
    if (failures > 0) {
      s += ' · ' + plural(failures, 'file failed', 'files failed');
    }
    summary.textContent = s + '.';
    done.hidden = finished < total;
    labelText.textContent = finished < total ? 'Add more files…' : 'Choose more files…';
  }

  // The headline result at the top, asked for after every finished file
  // (the answer includes this browser's own uploads).
  function refreshHeadline() {
    var seq = ++headlineSeq;
    var xhr = new XMLHttpRequest();
    xhr.open('GET', '/upload/headline');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onload = function () {
      if (xhr.status !== 200 || seq !== headlineSeq) {
        return;
      }
      var h = JSON.parse(xhr.responseText);
      headline.hidden = false;
      headline.setAttribute('data-kind', h.kind);
      document.getElementById('hl-title').textContent = h.headline + (h.more > 0 ? ' (and ' + plural(h.more, 'more diagnosis', 'more diagnoses') + ')' : '');
      document.getElementById('hl-text').textContent = h.text;
      var link = document.getElementById('hl-link');
      link.href = h.href;
      link.textContent = h.report ? 'Open the diagnosis →' : 'Open the dashboard →';
      var rep = document.getElementById('hl-report');
      rep.hidden = !h.report;
      if (h.report) {
        rep.href = h.report;
      }
    };
    xhr.send();
  }

  function setState(item, state, text, fraction) {
    item.li.setAttribute('data-state', state);
    item.state.textContent = text;
    if (fraction === null) {
      item.bar.removeAttribute('value'); // indeterminate
    } else if (fraction !== undefined) {
      item.bar.value = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    }
    if (state === 'uploading' && fraction !== null && fraction !== undefined) {
      item.frac = fraction / 2;
    } else if (state === 'processing') {
      item.frac = 0.5 + (fraction ? fraction / 2 : 0);
    } else if (state === 'done' || state === 'failed' || state === 'warning') {
      item.frac = 1;
    }
    updateOverall();
  }

  function finish(item, ok) {
    finished++;
    if (!ok) {
      failures++;
    }
    running--;
    updateSummary();
    if (ok) {
      refreshHeadline();
    }
    pump();
  }

  function showResult(item, u) {
    var parts = [];
    if (u.format) { parts.push(u.format); }
    parts.push(plural(u.records || 0, 'record', 'records'));
    parts.push(plural(u.outlook_events || 0, 'Outlook event', 'Outlook events'));
    parts.push((u.new_events || 0) + ' new');
    parts.push((u.duplicate_events || 0) + ' already known');
    var w = (u.warnings || []).length;
    if (w) { parts.push(plural(w, 'warning', 'warnings')); }
    item.result.textContent = '';
    item.result.appendChild(el('span', '', parts.join(' · ') + ' '));
    var a = el('a', '', 'details');
    a.href = '/uploads/' + encodeURIComponent(u.id);
    a.setAttribute('aria-label', 'Details of ' + item.file.name);
    item.result.appendChild(a);
    if (u.status === 'failed') {
      item.result.appendChild(el('span', 'error-msg', ' — ' + (u.error || 'failed')));
      setState(item, 'failed', 'failed', 1);
      finish(item, false);
      return;
    }
    if (!u.outlook_events) {
      empty++;
      item.result.appendChild(el('span', 'up-warn', ' — no Outlook events (25/26) in this file' +
        (u.looks_like ? ': ' + u.looks_like : ': is it the Application log of an affected computer?')));
      setState(item, 'warning', 'no Outlook events', 1);
      finish(item, true);
      return;
    }
    if (u.new_events === 0 && u.duplicate_events > 0) {
      item.result.appendChild(el('span', 'meta', ' — uploaded before; nothing added'));
    }
    newEvents += u.new_events || 0;
    setState(item, 'done', w ? 'done, with warnings' : 'done', 1);
    finish(item, true);
  }

  function fail(item, msg) {
    item.result.textContent = '';
    item.result.appendChild(el('span', 'error-msg', msg));
    setState(item, 'failed', 'failed', 0);
    finish(item, false);
  }

  function errorMessage(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.error && body.error.message) {
        return body.error.message;
      }
    } catch (e) { /* not JSON */ }
    return 'the server answered ' + xhr.status + ' ' + xhr.statusText;
  }

  function poll(item, id) {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', '/api/v1/uploads/' + encodeURIComponent(id));
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onload = function () {
      if (xhr.status !== 200) {
        fail(item, 'lost track of the upload: ' + errorMessage(xhr));
        return;
      }
      var u = JSON.parse(xhr.responseText);
      if (u.status === 'running') {
        var frac = u.bytes > 0 ? u.progress_bytes / u.bytes : 0;
        setState(item, 'processing', 'reading ' + Math.round(frac * 100) + ' %', frac);
        window.setTimeout(function () { poll(item, id); }, 400);
        return;
      }
      showResult(item, u);
    };
    xhr.onerror = function () { fail(item, 'network error while checking the upload'); };
    xhr.send();
  }

  function send(item) {
    running++;
    if (maxBytes && item.file.size > maxBytes) {
      fail(item, 'too large: the limit is ' + fmtBytes(maxBytes));
      return;
    }
    var fd = new FormData();
    var tz = document.getElementById('tz');
    var computer = document.getElementById('computer');
    if (tz && tz.value) { fd.append('tz', tz.value); }
    if (computer && computer.value) { fd.append('computer', computer.value); }
    fd.append('file', item.file, item.file.name);
    var xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1/uploads?async=1');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        setState(item, 'uploading', 'uploading ' + Math.round(e.loaded / e.total * 100) + ' %', e.loaded / e.total);
      }
    };
    xhr.upload.onload = function () { setState(item, 'processing', 'reading…', null); };
    xhr.onload = function () {
      if (xhr.status !== 201 && xhr.status !== 202) {
        fail(item, errorMessage(xhr));
        return;
      }
      var body = JSON.parse(xhr.responseText);
      var it = body.items && body.items[0];
      if (!it) {
        fail(item, 'the server sent no result');
      } else if (it.error) {
        fail(item, it.error.message);
      } else if (it.upload.status === 'running') {
        setState(item, 'processing', 'reading 0 %', 0);
        poll(item, it.upload.id);
      } else {
        showResult(item, it.upload);
      }
    };
    xhr.onerror = function () { fail(item, 'network error: the upload did not reach the server'); };
    setState(item, 'uploading', 'uploading 0 %', 0);
    xhr.send(fd);
  }

  function pump() {
    while (running < concurrency && queue.length > 0) {
      send(queue.shift());
    }
  }

  function add(files) {
    if (!files || files.length === 0) {
      return;
    }
    section.hidden = false;
    for (var i = 0; i < files.length; i++) {
      var f = files[i];
      var li = el('li', 'up-item');
      var head = el('div', 'up-head');
      head.appendChild(el('span', 'up-name', f.name));
      head.appendChild(el('span', 'meta', ' ' + fmtBytes(f.size)));
      var bar = el('progress', 'up-bar');
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute('aria-label', 'Progress of ' + f.name);
      var state = el('span', 'up-state', 'waiting');
      var result = el('div', 'up-result');
      li.appendChild(head);
      li.appendChild(bar);
      li.appendChild(state);
      li.appendChild(result);
      li.setAttribute('data-state', 'queued');
      list.appendChild(li);
      var item = { file: f, li: li, bar: bar, state: state, result: result, frac: 0 };
      queue.push(item);
      items.push(item);
      total++;
    }
    updateSummary();
    pump();
  }

  // One action: choosing files uploads them. The plain form's button and
  // the browser's "required" check belong to the page without script.
  input.removeAttribute('required');
  if (submit) {
    submit.hidden = true;
  }
  labelText.textContent = 'Choose log files…';
  var hint = zone.querySelector('.js-only');
  if (hint) {
    hint.hidden = false;
  }
  input.addEventListener('change', function () {
    var files = Array.prototype.slice.call(input.files || []);
    add(files);
    input.value = '';
  });
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    add(Array.prototype.slice.call(input.files || []));
    input.value = '';
  });
  function over(e) {
    e.preventDefault();
    if (e.dataTransfer) {
      e.dataTransfer.dropEffect = 'copy';
    }
    zone.classList.add('drag');
  }
  function leave() {
    zone.classList.remove('drag');
  }
  // Files dropped anywhere on the page are uploaded, not opened.
  document.addEventListener('dragover', over);
  document.addEventListener('dragenter', over);
  document.addEventListener('dragleave', function (e) {
    if (e.target === document.documentElement || e.target === zone) {
      leave();
    }
  });
  document.addEventListener('drop', function (e) {
    e.preventDefault();
    leave();
    if (e.dataTransfer && e.dataTransfer.files) {
      add(Array.prototype.slice.call(e.dataTransfer.files));
    }
  });
  zone.classList.add('js');
})();

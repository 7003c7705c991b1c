"""The one script the pages use: the edit page checks a value while it is typed.

Every page works without it (the forms post, the server checks again before it saves); with it,
the value field of the edit page asks `POST /api/v1/validate` with {pack, param|choice, value} a
moment after the officer stops typing (DEBOUNCE_MS), and shows the answer under the field: each
problem as `code file:line:col — message`, as the page shows them after a post, or that the value
is valid. The check is the server's (`certify validate` on the pack with that one value changed),
never a copy of it in script.

Only answers to the latest request are shown (an older answer arriving late is dropped), and
everything shown is set as text (`textContent`), never as markup. The script is served from this
server (`/static/edit.js`), so the pages' Content-Security-Policy allows scripts from 'self' only
and no inline script.
"""

from __future__ import annotations

DEBOUNCE_MS = 350

EDIT_JS = """'use strict';
(function () {
  var input = document.getElementById('value');
  var out = document.getElementById('live-check');
  if (!input || !out || !window.fetch) { return; }
  var form = input.form;
  var save = form.querySelector('button[value=save]');
  var zh = (document.documentElement.lang || '').indexOf('zh') === 0;
  var timer = null;
  var asked = 0;
  function show(state, nodes) {
    out.textContent = '';
    out.setAttribute('data-state', state);
    nodes.forEach(function (n) { out.appendChild(n); });
  }
  function line(text, cls) {
    var p = document.createElement('p');
    p.className = cls;
    p.textContent = text;
    return p;
  }
  function problem(p) {
    var div = document.createElement('div');
    div.className = 'problem ' + (p.severity || 'error');
    var code = document.createElement('b');
    code.textContent = p.code;
    div.appendChild(code);
    var text = (zh ? (p.message_zh || p.message) : p.message) || '';
    var first = text.split('\\n')[0];
    div.appendChild(document.createTextNode(' ' + p.file + ':' + p.line + ':' + p.col + ' \\u2014 ' + first));
    return div;
  }
  function check() {
    var mine = ++asked;
    var value = input.value;
    var body = {pack: form.getAttribute('data-pack'), value: value};
    body[form.getAttribute('data-which')] = form.getAttribute('data-name');
    show('checking', [line(out.getAttribute('data-checking'), 'meta')]);
    fetch('/api/v1/validate', {method: 'POST', credentials: 'same-origin',
                               headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)})
      .then(function (r) { return r.json(); })
      .then(function (doc) {
        if (mine !== asked) { return; }  // a newer value was typed meanwhile: its answer is shown
        var problems = doc.problems || [];
        var errors = problems.filter(function (p) { return (p.severity || 'error') === 'error'; });
        var bad = doc.valid === false || errors.length > 0;
        input.setAttribute('aria-invalid', bad ? 'true' : 'false');
        out.setAttribute('data-value', value);
        if (save) { save.disabled = bad; }
        var nodes = problems.map(problem);
        if (!bad) { nodes.unshift(line(out.getAttribute('data-valid'), 'pass')); }
        show(bad ? 'invalid' : 'valid', nodes);
      })
      .catch(function () {
        if (mine !== asked) { return; }
        if (save) { save.disabled = false; }  // the server checks again when the form is posted
        show('unknown', [line(out.getAttribute('data-failed'), 'meta')]);
      });
  }
  input.addEventListener('input', function () {
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(function () { timer = null; check(); }, %(debounce)d);
  });
})();
""" % {"debounce": DEBOUNCE_MS}

// The progress page of /cygnet/open: follows the event stream of /cygnet/api/open, then opens
// the result in JupyterLab (or says why it could not, or what a backup holds).
(function () {
  var api = document.body.dataset.api, lab = document.body.dataset.lab, xsrf = document.body.dataset.xsrf;
  var state = document.getElementById('state'), log = document.getElementById('log'), finished = false;
  function show(text, kind) { state.textContent = text; state.className = kind || ''; }
  function append(line) { log.textContent += line + '\n'; log.scrollTop = log.scrollHeight; }
  // The XSRF token rides in the query: EventSource sends no headers, and JupyterHub's sessions
  // accept a cookie on a request that is not a page load only with it.
  var query = window.location.search + (window.location.search ? '&' : '?') + '_xsrf=' + encodeURIComponent(xsrf);
  var source = new EventSource(api + query);
  show('Working\u2026');
  source.addEventListener('progress', function (e) { append(JSON.parse(e.data).line); });
  source.addEventListener('done', function (e) {
    finished = true; source.close();
    var data = JSON.parse(e.data);
    if (data.backup) {
      // The user's copy was moved aside: say so, and let them read it before going on.
      show('Your previous copy could not be merged and was moved, whole, to ' + data.backup.folder +
           '. See the list below; then open ' + data.path + '.', 'failed');
      append('only in ' + data.backup.folder + ': ' + (data.backup.only_in_backup.join(', ') || 'nothing'));
      append('your version differs from upstream’s: ' + (data.backup.differ.join(', ') || 'nothing'));
      var go = document.createElement('a');
      go.textContent = 'Open ' + data.path; go.href = data.url; go.id = 'go';
      state.appendChild(document.createElement('br')); state.appendChild(go);
      return;
    }
    if (data.kept_yours && data.kept_yours.length) {
      append('changed both here and upstream, your edits kept: ' + data.kept_yours.join(', '));
    }
    if (data.kernel) { append('opening on the kernel of its environment: ' + data.kernel); }
    if (data.warning) { append(data.warning); }
    show('Opening ' + data.path + '\u2026', 'done');
    if (data.url.indexOf(lab) === 0) { window.location.replace(data.url); }
  });
  source.addEventListener('failed', function (e) {
    finished = true; source.close();
    show('Could not open this link: ' + JSON.parse(e.data).message, 'failed');
  });
  source.onerror = function () {
    if (!finished) { source.close(); show('The connection to the server was lost.', 'failed'); }
  };
})();

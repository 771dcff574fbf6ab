// Comparing runs from the Runs panel: *Compare* two picked runs (GET /cygnet/api/runs/compare:
// cell by cell, numbers within a tolerance, with nbdime's side-by-side diff one click away), and
// *Check on another view…*: the same notebook and parameters on a second view (POST
// /cygnet/api/runs/check-views), so a user sees whether a new release changes their results.
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { postJSON, reported, requestAPI } from './api';
import { el } from './dom';
import { Comparison, Run, RunForm, describeComparison } from './runs';

/** Show the comparison of runs `a` and `b`; numbers match within `relTol` (relative). */
export async function showComparison(a: string, b: string, relTol: number): Promise<void> {
  const query = new URLSearchParams({ a, b, rel_tol: String(relTol) });
  const comparison = await reported('Compare runs', () => requestAPI<Comparison>(`runs/compare?${query}`));
  if (!comparison) {
    return;
  }
  const { headline, changes, cells } = describeComparison(comparison);
  const body = new Widget({ node: el('div', { className: 'cygnet-compare' }) });
  body.node.append(
    el('p', { className: `cygnet-compare-verdict cygnet-compare-${comparison.verdict}` }, headline),
    el(
      'p',
      { className: 'cygnet-compare-runs' },
      `A: ${comparison.a.output} · B: ${comparison.b.output}${relTol ? ` · tolerance ${relTol}` : ''}`
    ),
    el('ul', { className: 'cygnet-compare-changes' }, ...changes.map(line => el('li', {}, line)))
  );
  if (cells.length) {
    const rows = cells.map(cell =>
      el(
        'tr',
        { className: `cygnet-compare-cell cygnet-compare-${cell.verdict}` },
        el('td', {}, String(cell.cell)),
        el('td', {}, el('code', {}, cell.source)),
        el('td', {}, cell.verdict),
        el('td', {}, cell.detail)
      )
    );
    const head = el('tr', {}, ...['Cell', 'Source', 'Verdict', 'What differs'].map(h => el('th', {}, h)));
    body.node.append(
      el('table', { className: 'cygnet-compare-cells' }, el('thead', {}, head), el('tbody', {}, ...rows))
    );
  }
  const diff = comparison.diff_url;
  const answer = await showDialog({
    title: `Compare runs of ${comparison.a.notebook}`,
    body,
    buttons: diff
      ? [Dialog.cancelButton({ label: 'Close' }), Dialog.okButton({ label: 'Side-by-side diff' })]
      : [Dialog.okButton({ label: 'Close' })]
  });
  if (diff && answer.button.accept) {
    window.open(diff, '_blank', 'noopener');
  }
}

/** Run `run`'s notebook with its parameters on another view too; the ids of the two new runs. */
export async function checkOnAnotherView(run: Run): Promise<string[] | undefined> {
  const form = await reported('Check on another view', () =>
    requestAPI<RunForm>(`runs/form?${new URLSearchParams({ notebook: run.notebook })}`)
  );
  if (!form) {
    return undefined;
  }
  const others = form.views.filter(v => v !== run.view);
  if (!others.length) {
    Notification.warning('There is no other view to check this notebook on.', { autoClose: 10000 });
    return undefined;
  }
  const select = el('select', { className: 'cygnet-check-view' });
  others.forEach(view => select.append(el('option', { value: view, textContent: view })));
  const body = new Widget({ node: el('div', {}) });
  body.node.append(
    el('p', {}, `Run ${run.notebook} with the same parameters on ${run.view} and on:`),
    select,
    el('p', {}, 'When both have ended, the two runs are picked in the Runs panel: press Compare.')
  );
  const answer = await showDialog({
    title: 'Check on another view',
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run both' })]
  });
  if (!answer.button.accept) {
    return undefined;
  }
  const created = await reported('Check on another view', () =>
    postJSON<{ runs: Run[] }>('runs/check-views', {
      notebook: run.notebook,
      views: [run.view, select.value],
      parameters: run.parameters ?? {}
    })
  );
  return created?.runs.map(r => r.id);
}

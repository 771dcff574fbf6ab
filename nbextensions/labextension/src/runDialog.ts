// "Run as Batch Job…": the notebook's parameters (prefilled from its parameters cell), the view,
// a Spark or Dask cluster and the backend, sent to POST /cygnet/api/runs.
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { postJSON, reported, requestAPI } from './api';
import { el } from './dom';
import { Run, RunForm, changedParameters } from './runs';

class RunBody extends Widget {
  readonly inputs: Record<string, HTMLInputElement> = {};
  readonly view: HTMLSelectElement;
  readonly cluster: HTMLSelectElement;
  readonly backend: HTMLSelectElement;

  constructor(readonly form: RunForm) {
    super();
    const options = (values: string[], chosen: string, className: string, none?: string) => {
      const select = el('select', { className });
      for (const value of none !== undefined ? ['', ...values] : values) {
        select.append(el('option', { value, textContent: value || none, selected: value === chosen }));
      }
      return select;
    };
    this.view = options(form.views, form.default_view, 'cygnet-run-view');
    this.cluster = options(form.clusters, '', 'cygnet-run-cluster', 'none');
    this.backend = options(form.backends, form.default_backend, 'cygnet-run-backend');
    const parameters = el('fieldset', { className: 'cygnet-run-parameters' }, el('legend', {}, 'Parameters'));
    for (const p of form.parameters) {
      const input = el('input', { className: 'cygnet-run-parameter', name: p.name, value: p.default, title: p.help });
      this.inputs[p.name] = input;
      parameters.append(el('label', {}, `${p.name} `, input));
    }
    if (!form.parameters.length) {
      parameters.append(el('p', {}, 'This notebook has no cell tagged "parameters".'));
    }
    this.node.append(
      parameters,
      el('label', {}, 'View ', this.view),
      el('label', {}, 'Cluster ', this.cluster),
      el('label', {}, 'Run on ', this.backend)
    );
  }

  values(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.inputs).map(([name, input]) => [name, input.value]));
  }
}

export async function runAsBatchJob(notebook: string, onSubmitted: () => void): Promise<void> {
  const form = await reported('Run as batch job', () =>
    requestAPI<RunForm>(`runs/form?notebook=${encodeURIComponent(notebook)}`)
  );
  if (!form) {
    return;
  }
  const body = new RunBody(form);
  const answer = await showDialog({
    title: `Run ${notebook} as a batch job`,
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })]
  });
  if (!answer.button.accept) {
    return;
  }
  const run = await reported('Run as batch job', () =>
    postJSON<Run>('runs', {
      notebook,
      parameters: changedParameters(form, body.values()),
      view: body.view.value,
      cluster: body.cluster.value,
      backend: body.backend.value
    })
  );
  if (run) {
    Notification.info(`Run ${run.id} submitted (${run.backend}); the result will be ${run.output}`, {
      autoClose: 6000
    });
    onSubmitted();
  }
}

// "Run as Batch Job…": the notebook's parameters (prefilled from its parameters cell), the view,
// a Spark or Dask cluster and the backend; now (POST /cygnet/api/runs) or on a schedule (POST
// /cygnet/api/schedules: a cron expression in a time zone, or an interval); and whom to tell
// when a run fails or ends (email, webhook).
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { postJSON, reported, requestAPI } from './api';
import { el } from './dom';
import { Run, RunForm, Schedule, WhenChoice, changedParameters, describeSchedule, submission } from './runs';

class RunBody extends Widget {
  readonly inputs: Record<string, HTMLInputElement> = {};
  readonly view: HTMLSelectElement;
  readonly cluster: HTMLSelectElement;
  readonly backend: HTMLSelectElement;
  readonly mode: HTMLSelectElement;
  readonly cron = el('input', { className: 'cygnet-run-cron', placeholder: '0 6 * * 1-5', value: '0 6 * * *' });
  readonly every = el('input', { className: 'cygnet-run-every', placeholder: '1h', value: '1d' });
  readonly timezone = el('input', {
    className: 'cygnet-run-timezone',
    value: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
  });
  readonly notifyOn: HTMLSelectElement;
  readonly checkNewViews = el('input', { className: 'cygnet-run-check-new-views', type: 'checkbox' });
  readonly email = el('input', { className: 'cygnet-run-email', type: 'email', placeholder: 'you@example.org' });
  readonly webhook = el('input', { className: 'cygnet-run-webhook', placeholder: 'https://…' });

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
    this.mode = el('select', { className: 'cygnet-run-when' });
    for (const [value, text] of [
      ['now', 'Now'],
      ['cron', 'On a schedule (cron)'],
      ['every', 'At an interval']
    ]) {
      this.mode.append(el('option', { value, textContent: text }));
    }
    const cronRow = el('label', { className: 'cygnet-run-cron-row' }, 'Cron ', this.cron, ' in ', this.timezone);
    const everyRow = el('label', { className: 'cygnet-run-every-row' }, 'Every ', this.every);
    const checkRow = el(
      'label',
      {
        className: 'cygnet-run-check-new-views-row',
        title:
          'Each time, run it on a view newer than the chosen one (if one appeared) and tell me if the results differ'
      },
      this.checkNewViews,
      ' Instead, check each new view against the chosen one'
    );
    const showWhen = () => {
      cronRow.hidden = this.mode.value !== 'cron';
      everyRow.hidden = this.mode.value !== 'every';
      checkRow.hidden = this.mode.value === 'now';
    };
    this.mode.onchange = showWhen;
    showWhen();
    this.notifyOn = el('select', { className: 'cygnet-run-notify-on' });
    for (const [value, text] of [
      ['failed', 'when a run fails'],
      ['ended', 'whenever a run ends'],
      ['never', 'never']
    ]) {
      this.notifyOn.append(el('option', { value, textContent: text }));
    }
    const when = el('fieldset', { className: 'cygnet-run-schedule' }, el('legend', {}, 'When'), this.mode);
    when.append(cronRow, everyRow, checkRow);
    const notify = el(
      'fieldset',
      { className: 'cygnet-run-notify' },
      el('legend', {}, 'Tell me'),
      this.notifyOn,
      el('label', {}, 'Email ', this.email),
      el('label', {}, 'Webhook ', this.webhook)
    );
    this.node.append(
      parameters,
      el('label', {}, 'View ', this.view),
      el('label', {}, 'Cluster ', this.cluster),
      el('label', {}, 'Run on ', this.backend),
      when,
      notify
    );
  }

  choice(): WhenChoice {
    return {
      mode: this.mode.value as WhenChoice['mode'],
      cron: this.cron.value,
      every: this.every.value,
      timezone: this.timezone.value.trim(),
      notifyOn: this.notifyOn.value as WhenChoice['notifyOn'],
      email: this.email.value,
      webhook: this.webhook.value,
      checkNewViews: this.checkNewViews.checked
    };
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
  const { route, body: request } = submission(
    {
      notebook,
      parameters: changedParameters(form, body.values()),
      view: body.view.value,
      cluster: body.cluster.value,
      backend: body.backend.value
    },
    body.choice()
  );
  if (route === 'schedules') {
    const schedule = await reported('Schedule', () => postJSON<Schedule>('schedules', request));
    if (schedule) {
      Notification.info(`Schedule ${schedule.id} added: ${describeSchedule(schedule)}`, { autoClose: 8000 });
      await showSecret(schedule.webhook_secret);
      onSubmitted();
    }
    return;
  }
  const run = await reported('Run as batch job', () => postJSON<Run & { webhook_secret?: string }>('runs', request));
  if (run) {
    Notification.info(`Run ${run.id} submitted (${run.backend}); the result will be ${run.output}`, {
      autoClose: 6000
    });
    await showSecret(run.webhook_secret);
    onSubmitted();
  }
}

/** A webhook secret Cygnet made is shown this once: the receiver checks signatures with it. */
async function showSecret(secret: string | undefined): Promise<void> {
  if (!secret) {
    return;
  }
  const text = el('input', { className: 'cygnet-webhook-secret', value: secret, readOnly: true, size: 48 });
  await showDialog({
    title: 'Webhook signing secret',
    body: new Widget({
      node: el(
        'div',
        {},
        el('p', {}, 'Each webhook call is signed with HMAC-SHA256 of its body (X-Cygnet-Signature). '),
        el('p', {}, 'Keep this secret for your receiver: it is not shown again.'),
        text
      )
    }),
    buttons: [Dialog.okButton({ label: 'Done' })]
  });
}

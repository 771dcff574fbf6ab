// The "Runs" panel: your schedules (pause, resume, remove) and your batch runs, grouped by
// schedule and notebook, with their state and progress, to open the result or cancel, to pick
// two and compare them, or to check one on another view; a notification when one ends (while
// JupyterLab is open).
import { Notification } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { notifyError, reported, requestAPI } from './api';
import { checkOnAnotherView, showComparison } from './compareDialog';
import { el } from './dom';
import { FINAL_STATES, Run, Schedule, describeRun, describeSchedule, groupRuns, newlyEnded, togglePick } from './runs';

// While a run is under way the panel looks every few seconds; otherwise rarely.
const POLL_ACTIVE_MS = 3000;
const POLL_IDLE_MS = 15000;

export class RunsPanel extends Widget {
  private readonly list = el('div', { className: 'cygnet-runs-list' });
  private readonly schedules = el('ul', { className: 'cygnet-schedules-list' });
  private readonly seen = new Map<string, string>();
  private picked: string[] = [];
  private readonly compare = el('button', {
    className: 'jp-mod-styled cygnet-runs-compare',
    textContent: 'Compare',
    title: 'Pick two ended runs, then compare their results cell by cell',
    disabled: true,
    onclick: () => void showComparison(this.picked[0], this.picked[1], Number(this.tolerance.value) || 0)
  });
  private readonly tolerance = el('input', {
    className: 'cygnet-runs-tolerance',
    type: 'number',
    min: '0',
    step: 'any',
    value: '0',
    title: 'Numbers in outputs match when they differ by at most this fraction (0: exactly)'
  });
  private timer = 0;

  constructor(private readonly open: (path: string) => void) {
    super();
    this.id = 'cygnet-runs-panel';
    this.title.caption = 'Batch runs';
    this.addClass('cygnet-runs-panel');
    const bar = el(
      'div',
      { className: 'cygnet-runs-compare-bar' },
      this.compare,
      el('label', {}, 'tolerance ', this.tolerance)
    );
    this.node.append(el('h2', {}, 'Schedules'), this.schedules, el('h2', {}, 'Runs'), bar, this.list);
    void this.poll();
  }

  private async poll(): Promise<void> {
    const active = await this.refresh();
    if (!this.isDisposed) {
      this.timer = window.setTimeout(() => void this.poll(), active ? POLL_ACTIVE_MS : POLL_IDLE_MS);
    }
  }

  /** Look again (after a submit, too); whether any run is still under way. */
  async refresh(): Promise<boolean> {
    let runs: Run[];
    let schedules: Schedule[];
    try {
      [runs, schedules] = await Promise.all([requestAPI<Run[]>('runs'), requestAPI<Schedule[]>('schedules')]);
    } catch (error) {
      if (this.isVisible) {
        notifyError('Runs', error);
      }
      return false;
    }
    for (const run of newlyEnded(this.seen, runs)) {
      const notify = run.state === 'succeeded' ? Notification.success : Notification.error;
      notify(`Run of ${run.notebook} ${run.state}${run.error ? `: ${run.error}` : ''}`, {
        autoClose: 10000,
        actions: [{ label: 'Open result', callback: () => this.open(run.output) }]
      });
    }
    runs.forEach(r => this.seen.set(r.id, r.state));
    this.picked = this.picked.filter(id => runs.some(r => r.id === id));
    const ended = (id: string) => FINAL_STATES.includes(this.seen.get(id) ?? '');
    this.compare.disabled = !(this.picked.length === 2 && this.picked.every(ended));
    if (this.isVisible) {
      const groups = groupRuns(runs).map(group =>
        el(
          'section',
          { className: 'cygnet-runs-group' },
          el('h3', {}, group.title),
          el('ul', {}, ...group.runs.map(r => this.row(r)))
        )
      );
      this.list.replaceChildren(...(groups.length ? groups : [el('p', {}, 'No runs yet.')]));
      this.schedules.replaceChildren(
        ...(schedules.length ? schedules.map(s => this.scheduleRow(s)) : [el('li', {}, 'No schedules.')])
      );
    }
    return runs.some(r => !FINAL_STATES.includes(r.state));
  }

  private row(run: Run): HTMLElement {
    const pick = el('input', {
      type: 'checkbox',
      className: 'cygnet-run-pick',
      title: 'Pick to compare',
      checked: this.picked.includes(run.id),
      onchange: () => {
        this.picked = togglePick(this.picked, run.id);
        void this.refresh();
      }
    });
    const item = el(
      'li',
      { className: 'cygnet-run' },
      pick,
      el('span', { className: 'cygnet-run-state' }, describeRun(run))
    );
    item.dataset.state = run.state;
    item.dataset.id = run.id;
    if (run.state === 'running' && run.cells_total) {
      item.append(el('progress', { max: run.cells_total, value: run.cells_done }));
    }
    item.append(
      el('button', {
        className: 'jp-mod-styled cygnet-run-open',
        textContent: 'Open result',
        onclick: () => this.open(run.output)
      })
    );
    if (run.state === 'succeeded' && run.view) {
      item.append(
        el('button', {
          className: 'jp-mod-styled cygnet-run-check-view',
          textContent: 'Other view…',
          title: 'Check on another view: the same notebook and parameters on a second view, to compare the results',
          onclick: async () => {
            const ids = await checkOnAnotherView(run);
            if (ids) {
              this.picked = ids;
              void this.refresh();
            }
          }
        })
      );
    }
    if (!FINAL_STATES.includes(run.state)) {
      item.append(
        el('button', {
          className: 'jp-mod-styled cygnet-run-cancel',
          textContent: 'Cancel',
          onclick: async () => {
            await reported('Cancel run', () => requestAPI(`runs/${run.id}`, { method: 'DELETE' }));
            void this.refresh();
          }
        })
      );
    }
    return item;
  }

  private scheduleRow(schedule: Schedule): HTMLElement {
    const item = el(
      'li',
      { className: 'cygnet-schedule' },
      el('span', { className: 'cygnet-schedule-state' }, describeSchedule(schedule))
    );
    item.dataset.id = schedule.id;
    const act = (label: string, className: string, init: RequestInit) =>
      el('button', {
        className: `jp-mod-styled ${className}`,
        textContent: label,
        onclick: async () => {
          await reported(label, () => requestAPI(`schedules/${schedule.id}`, init));
          void this.refresh();
        }
      });
    item.append(
      schedule.paused
        ? act('Resume', 'cygnet-schedule-resume', { method: 'PATCH', body: JSON.stringify({ paused: false }) })
        : act('Pause', 'cygnet-schedule-pause', { method: 'PATCH', body: JSON.stringify({ paused: true }) }),
      act('Remove', 'cygnet-schedule-remove', { method: 'DELETE' })
    );
    return item;
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  dispose(): void {
    window.clearTimeout(this.timer);
    super.dispose();
  }
}

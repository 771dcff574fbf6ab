// "Sync to box": mirror a workspace folder to the box through /cygnet/api/sync, with progress
// and the summary (copied, skipped, deleted, conflicts, bytes).
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { notifyError, postJSON, requestAPI } from './api';
import { el } from './dom';
import { SyncJob, describeJob, syncIsLive } from './messages';

class SyncBody extends Widget {
  readonly src: HTMLInputElement;
  readonly dest = el('input', { className: 'cygnet-sync-dest', placeholder: 'the box root, or a folder inside it' });
  readonly remove = el('input', { type: 'checkbox', className: 'cygnet-sync-delete' });
  constructor(src: string) {
    super();
    this.src = el('input', { className: 'cygnet-sync-src', value: src });
    this.node.append(
      el('label', {}, 'Workspace folder ', this.src),
      el('label', {}, 'Box folder ', this.dest),
      el('label', {}, this.remove, ' also delete from the box what is gone here')
    );
  }
  getValue() {
    return { src: this.src.value.trim() || '.', dest: this.dest.value.trim(), delete: this.remove.checked };
  }
}

export async function syncToBox(src: string): Promise<void> {
  const body = new SyncBody(src);
  const answer = await showDialog({
    title: 'Sync to box',
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Sync' })]
  });
  if (!answer.button.accept) {
    return;
  }
  let job: SyncJob;
  try {
    job = await postJSON<SyncJob>('sync', body.getValue());
  } catch (error) {
    notifyError('Sync', error);
    return;
  }
  // The answer may come while the job is still queued: follow it until it ends either way.
  const id = Notification.emit(describeJob(job), 'in-progress', { autoClose: false });
  while (syncIsLive(job)) {
    await new Promise(resolve => setTimeout(resolve, 1000));
    try {
      job = await requestAPI<SyncJob>(`sync/${job.id}`);
    } catch (error) {
      Notification.update({ id, message: `Sync: ${(error as Error).message}`, type: 'error', autoClose: 10000 });
      return;
    }
    if (syncIsLive(job)) {
      Notification.update({ id, message: describeJob(job), type: 'in-progress', autoClose: false });
    }
  }
  Notification.update({
    id,
    message: describeJob(job),
    type: job.state === 'done' ? 'success' : 'error',
    autoClose: 10000
  });
}

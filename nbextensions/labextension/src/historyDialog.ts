// "History…": a file's checkpoints and the versions the box keeps of it (/cygnet/api/history),
// the diff of any of them against the current file or another version, and Restore (the current
// file is kept as a checkpoint first, so a restore can be undone the same way).
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { notifyError, postJSON, requestAPI } from './api';
import { el } from './dom';
import { Version, describeVersion, versionRef } from './messages';

class HistoryBody extends Widget {
  private readonly list = el('ul', { className: 'cygnet-history-list' });
  private readonly compareWith = el('select', { className: 'cygnet-history-against' });
  private readonly diff = el('pre', { className: 'cygnet-history-diff' });
  constructor(
    private readonly path: string,
    versions: Version[],
    private readonly restore: (version: Version) => void
  ) {
    super();
    this.addClass('cygnet-history');
    this.compareWith.append(el('option', { value: 'current' }, 'the current file'));
    for (const version of versions) {
      this.compareWith.append(el('option', { value: versionRef(version) }, describeVersion(version)));
    }
    if (!versions.length) {
      this.list.append(
        el(
          'li',
          { className: 'cygnet-history-none' },
          'No versions yet: save a checkpoint, or sync this file to the box twice.'
        )
      );
    }
    for (const version of versions) {
      const diffButton = el('button', { className: 'jp-mod-styled cygnet-history-show-diff' }, 'Diff');
      diffButton.onclick = () => void this.showDiff(version);
      const restoreButton = el('button', { className: 'jp-mod-styled cygnet-history-restore' }, 'Restore');
      restoreButton.onclick = () => this.restore(version);
      this.list.append(
        el('li', { className: 'cygnet-history-item' }, describeVersion(version), ' ', diffButton, ' ', restoreButton)
      );
    }
    this.node.append(this.list, el('label', {}, 'Diff against ', this.compareWith), this.diff);
  }

  private async showDiff(version: Version): Promise<void> {
    this.diff.textContent = 'Comparing…';
    const query = new URLSearchParams({ path: this.path, a: versionRef(version), b: this.compareWith.value });
    try {
      const answer = await requestAPI<{ diff: string }>(`history/diff?${query}`);
      this.diff.textContent = answer.diff || 'No differences.';
    } catch (error) {
      this.diff.textContent = (error as Error).message;
    }
  }
}

export async function showHistory(path: string): Promise<void> {
  let versions: Version[];
  try {
    versions = (await requestAPI<{ versions: Version[] }>(`history?${new URLSearchParams({ path })}`)).versions;
  } catch (error) {
    notifyError('History', error);
    return;
  }
  let chosen: Version | undefined;
  const dialog = new Dialog({
    title: `History of ${path}`,
    body: new HistoryBody(path, versions, version => {
      chosen = version;
      dialog.resolve(0);
    }),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
  await dialog.launch();
  if (!chosen) {
    return;
  }
  const confirm = await showDialog({
    title: 'Restore this version?',
    body: `${path} becomes the version of ${describeVersion(chosen)}. The current file is kept as a checkpoint first.`,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Restore' })]
  });
  if (!confirm.button.accept) {
    return;
  }
  try {
    await postJSON('history/restore', { path, version: versionRef(chosen) });
    Notification.success(`${path}: restored the version of ${describeVersion(chosen)}`, { autoClose: 5000 });
  } catch (error) {
    notifyError('Restore', error);
  }
}

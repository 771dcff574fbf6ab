// "Open Git repository": a URL, branch and path go through /cygnet/open, which clones or
// updates the repository in the workspace and opens the notebook. "Copy open-link" makes the
// shareable link of the repository that holds the current notebook (/cygnet/api/link?from=).
import { Clipboard, Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { notifyError, reported, requestAPI, serverURL } from './api';
import { el } from './dom';
import { openQuery } from './links';

class RepoBody extends Widget {
  readonly repo = el('input', { className: 'cygnet-open-repo', placeholder: 'https://github.com/owner/repo' });
  readonly branch = el('input', { className: 'cygnet-open-branch', placeholder: 'default branch' });
  readonly path = el('input', { className: 'cygnet-open-path', placeholder: 'a notebook inside it (optional)' });
  readonly env = el('input', { className: 'cygnet-open-env', type: 'checkbox' });
  constructor() {
    super();
    this.node.append(
      el('label', {}, 'Repository ', this.repo),
      el('label', {}, 'Branch ', this.branch),
      el('label', {}, 'Open ', this.path),
      el(
        'label',
        { title: 'Install its requirements.txt, pyproject.toml or environment.yml on top of your view' },
        this.env,
        ' Build its environment'
      )
    );
  }
  getValue() {
    return { repo: this.repo.value, branch: this.branch.value, path: this.path.value, env: this.env.checked };
  }
}

export async function openRepository(): Promise<void> {
  const body = new RepoBody();
  const answer = await showDialog({
    title: 'Open Git repository',
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Open' })]
  });
  if (!answer.button.accept) {
    return;
  }
  const value = body.getValue();
  try {
    window.location.assign(
      `${serverURL('cygnet', 'open')}?${openQuery(value.repo, value.branch, value.path, value.env)}`
    );
  } catch (error) {
    notifyError('Open Git repository', error);
  }
}

/** Copy the open-link of the Git repository that holds a workspace path (the current notebook). */
export async function copyOpenLink(path: string): Promise<void> {
  const link = await reported('Open-link', () => requestAPI<{ url: string }>(`link?from=${encodeURIComponent(path)}`));
  if (link) {
    Clipboard.copyToSystem(link.url);
    Notification.success(`Open-link copied: ${link.url}`, { autoClose: 8000 });
  }
}

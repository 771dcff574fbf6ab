// "Share Folder Live…": a workspace folder shared with named hub users, who work in it as you do
// (read-write or read-only), with who is in, Cut off and Stop sharing; and the Shared panel's
// list of live folders (yours, and those shared with you, linked at shared/<owner>/<name>).
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { notifyError, postJSON, reported, requestAPI } from './api';
import { el } from './dom';
import { describeMembers, parseUserNames } from './messages';

export interface LiveFolder {
  id: string;
  owner: string;
  name: string;
  path: string;
  target: string;
  state: string;
  members: Record<string, 'rw' | 'ro'>;
}

export interface LiveFolders {
  available: boolean;
  why: string;
  folders: LiveFolder[];
}

export function listLiveFolders(): Promise<LiveFolders> {
  return requestAPI<LiveFolders>('folders');
}

function cutOffButton(folder: LiveFolder, user: string, after: () => void): HTMLElement {
  return el('button', {
    className: 'jp-mod-styled jp-mod-warn cygnet-folder-revoke',
    textContent: `Cut off ${user}`,
    onclick: async () => {
      await reported(`Cut off ${user}`, () =>
        requestAPI(`folders/${folder.id}/members/${encodeURIComponent(user)}`, { method: 'DELETE' })
      );
      after();
    }
  });
}

export function stopButton(folder: LiveFolder, after: () => void): HTMLElement {
  return el('button', {
    className: 'jp-mod-styled jp-mod-warn cygnet-folder-stop',
    textContent: 'Stop sharing',
    onclick: async () => {
      const back = await reported(`Stop sharing ${folder.path}`, () =>
        requestAPI<{ path: string }>(`folders/${folder.id}`, { method: 'DELETE' })
      );
      if (back) {
        Notification.success(`${folder.path} is yours alone again (at ${back.path})`, { autoClose: 5000 });
      }
      after();
    }
  });
}

class LiveFolderBody extends Widget {
  private readonly users = el('input', {
    className: 'cygnet-folder-users',
    placeholder: 'user names, separated by commas'
  }) as HTMLInputElement;
  private readonly readOnly = el('input', {
    type: 'checkbox',
    className: 'cygnet-folder-readonly'
  }) as HTMLInputElement;
  private readonly message = el('div', { className: 'cygnet-folder-message' });
  private readonly current = el('div', { className: 'cygnet-folder-current' });

  constructor(private readonly path: string) {
    super();
    this.addClass('cygnet-folder-dialog');
    this.node.append(
      el(
        'p',
        {},
        'The people you name work in ',
        el('code', {}, path),
        ' itself, not a copy: they see your changes and you see theirs. It appears in their file browser under ',
        el('code', {}, 'shared/'),
        '. Their kernels and terminals reach it with their own account, never yours.'
      ),
      el('label', {}, 'Share with ', this.users),
      el('label', {}, this.readOnly, ' Read-only (they can open and copy, not change)'),
      el('button', {
        className: 'jp-mod-styled jp-mod-accept cygnet-folder-share',
        textContent: 'Share live',
        onclick: () => void this.share()
      }),
      this.message,
      this.current
    );
    void this.refresh();
  }

  private mine(folders: LiveFolder[]): LiveFolder | undefined {
    return folders.find(f => f.path === this.path && f.state === 'shared');
  }

  private async share(): Promise<void> {
    const users = parseUserNames(this.users.value);
    if (!users.length) {
      this.message.textContent = 'Name at least one user.';
      return;
    }
    const mode = this.readOnly.checked ? 'ro' : 'rw';
    try {
      const existing = this.mine((await listLiveFolders()).folders);
      if (existing) {
        for (const user of users) {
          await requestAPI(`folders/${existing.id}/members/${encodeURIComponent(user)}`, {
            method: 'PUT',
            body: JSON.stringify({ mode })
          });
        }
      } else {
        await postJSON('folders', { path: this.path, users, mode });
      }
      this.users.value = '';
      this.message.textContent = `Done: ${users.join(', ')} will find it in shared/ of their own workspace.`;
    } catch (error) {
      this.message.textContent = (error as Error).message;
      notifyError(`Share ${this.path} live`, error);
    }
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    try {
      const listing = await listLiveFolders();
      if (!listing.available) {
        this.message.textContent = listing.why;
      }
      const folder = this.mine(listing.folders);
      this.current.replaceChildren(
        ...(folder
          ? [
              el('p', { className: 'cygnet-folder-members' }, `Shared with ${describeMembers(folder.members)}`),
              ...Object.keys(folder.members)
                .sort()
                .map(user => cutOffButton(folder, user, () => void this.refresh())),
              stopButton(folder, () => void this.refresh())
            ]
          : [el('p', { className: 'cygnet-folder-members' }, 'Not shared live.')])
      );
    } catch (error) {
      this.message.textContent = (error as Error).message;
    }
  }
}

export async function showLiveFolderDialog(path: string): Promise<void> {
  await showDialog({
    title: `Share ${path} live`,
    body: new LiveFolderBody(path),
    buttons: [Dialog.okButton({ label: 'Done' })]
  });
}

/** The Shared panel's rows of live folders. */
export function liveFolderRows(listing: LiveFolders, me: string | null, after: () => void): HTMLElement[] {
  const shared = listing.folders.filter(f => f.state === 'shared');
  if (!shared.length) {
    return [el('li', {}, listing.available ? 'No live shared folders.' : listing.why)];
  }
  return shared.map(folder =>
    folder.owner === me
      ? el(
          'li',
          { className: 'cygnet-folder-row' },
          el('span', { className: 'cygnet-share-name' }, folder.path),
          el('span', { className: 'cygnet-share-meta' }, ` with ${describeMembers(folder.members)} `),
          stopButton(folder, after)
        )
      : el(
          'li',
          { className: 'cygnet-folder-row' },
          el('span', { className: 'cygnet-share-name' }, `shared/${folder.owner}/${folder.name}`),
          el(
            'span',
            { className: 'cygnet-share-meta' },
            ` from ${folder.owner}${folder.members[me ?? ''] === 'ro' ? ', read-only' : ''}`
          )
        )
  );
}

/** For a colleague in someone's shared session: open this notebook in their own session, with
 * their own kernel (view, Spark, Kerberos), when its folder is shared live with them; otherwise
 * say what to ask the owner. */
export async function openWithOwnKernel(path: string): Promise<void> {
  try {
    const there = await requestAPI<{ path: string; url: string }>(
      `folders/own-kernel?path=${encodeURIComponent(path)}`
    );
    window.open(there.url, '_blank');
  } catch (error) {
    await showDialog({
      title: 'Open My Own Kernel on This Notebook',
      body: (error as Error).message,
      buttons: [Dialog.okButton()]
    });
  }
}

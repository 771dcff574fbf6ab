// "Share…": create a link to a notebook, file or folder (with an optional expiry), copy it,
// see the path's existing shares and revoke them.
import { Clipboard, Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { el } from './dom';

import { notifyError, postJSON, reported, requestAPI } from './api';
import { describeExpiry, formatBytes, parseExpiry } from './messages';

export interface Share {
  id: string;
  path: string;
  kind: string;
  name: string;
  state: string;
  created: number;
  expires: number | null;
  bytes: number;
  files: number;
  users: string[];
  token?: string;
  url?: string;
  open_url?: string;
  owner?: string;
}

/** The one line that describes a share in lists. */
export function shareRow(share: Share, actions: Node[]): HTMLElement {
  return el(
    'li',
    { className: 'cygnet-share-row' },
    el('span', { className: 'cygnet-share-name', title: share.path }, share.path),
    el(
      'span',
      { className: 'cygnet-share-meta' },
      ` ${share.kind}, ${formatBytes(share.bytes)}, ${describeExpiry(share.expires)}`
    ),
    ...actions
  );
}

export function revokeButton(share: Share, after: () => void): HTMLButtonElement {
  return el('button', {
    className: 'jp-mod-styled jp-mod-warn cygnet-share-revoke',
    textContent: 'Revoke',
    onclick: async () => {
      const revoked = await reported('Revoke', () =>
        requestAPI(`shares/${share.id}`, { method: 'DELETE' }).then(() => true)
      );
      if (revoked) {
        Notification.success(`Link to ${share.path} revoked`, { autoClose: 4000 });
      }
      after();
    }
  }) as HTMLButtonElement;
}

class ShareBody extends Widget {
  private readonly expiry = el('input', {
    className: 'cygnet-share-expiry',
    placeholder: 'never (or 30m, 12h, 7d, 2w)'
  }) as HTMLInputElement;
  private readonly link = el('input', {
    className: 'cygnet-share-link',
    readOnly: true,
    placeholder: 'the link appears here'
  }) as HTMLInputElement;
  private readonly message = el('div', { className: 'cygnet-share-message' });
  private readonly list = el('ul', { className: 'cygnet-share-list' });

  constructor(private readonly path: string) {
    super();
    this.addClass('cygnet-share-dialog');
    const create = el('button', {
      className: 'jp-mod-styled jp-mod-accept cygnet-share-create',
      textContent: 'Create link',
      onclick: () => this.create()
    });
    const copy = el('button', {
      className: 'jp-mod-styled cygnet-share-copy',
      textContent: 'Copy',
      onclick: () => {
        if (this.link.value) {
          Clipboard.copyToSystem(this.link.value);
          this.message.textContent = 'Copied.';
        }
      }
    });
    this.node.append(
      el(
        'p',
        {},
        'Anyone with the link can view a snapshot of ',
        el('code', {}, path),
        ' (read-only), or open a copy in their own workspace.'
      ),
      el('label', {}, 'Expires after ', this.expiry),
      create,
      el('div', { className: 'cygnet-share-linkrow' }, this.link, copy),
      this.message,
      el('h3', {}, 'Existing links to this path'),
      this.list
    );
    void this.refresh();
  }

  private async create(): Promise<void> {
    let expires: number | null;
    try {
      expires = parseExpiry(this.expiry.value);
    } catch (error) {
      this.message.textContent = (error as Error).message;
      return;
    }
    try {
      const share = await postJSON<Share>(
        'shares',
        expires ? { path: this.path, expires_in: expires } : { path: this.path }
      );
      this.link.value = share.url ?? '';
      this.message.textContent = 'Link created: copy it now, it is shown only once.';
      this.link.select();
    } catch (error) {
      this.message.textContent = (error as Error).message;
      notifyError(`Share ${this.path}`, error);
    }
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    try {
      const shares = await requestAPI<Share[]>(`shares?path=${encodeURIComponent(this.path)}`);
      this.list.replaceChildren(
        ...(shares.length
          ? shares.map(s => shareRow(s, [revokeButton(s, () => void this.refresh())]))
          : [el('li', {}, 'none')])
      );
    } catch (error) {
      this.list.replaceChildren(el('li', {}, `could not list links: ${(error as Error).message}`));
    }
  }
}

export async function showShareDialog(path: string): Promise<void> {
  await showDialog({
    title: `Share ${path}`,
    body: new ShareBody(path),
    buttons: [Dialog.okButton({ label: 'Done' })]
  });
}

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
  gallery?: { title: string; description: string; hidden: boolean } | null;
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
  // The site's gallery (under a hub, for notebooks): publish the new link's snapshot too.
  private readonly publish = el('input', { type: 'checkbox', className: 'cygnet-gallery-publish' }) as HTMLInputElement;
  private readonly galleryTitle = el('input', {
    className: 'cygnet-gallery-title',
    placeholder: 'title (default: the notebook’s name)'
  }) as HTMLInputElement;
  private readonly description = el('textarea', {
    className: 'cygnet-gallery-description',
    placeholder: 'what it shows, in a sentence or two',
    rows: 2
  }) as HTMLTextAreaElement;
  private readonly gallery: boolean;

  constructor(
    private readonly path: string,
    hub: boolean
  ) {
    super();
    this.addClass('cygnet-share-dialog');
    this.gallery = hub && path.endsWith('.ipynb');
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
      ...(this.gallery
        ? [
            el(
              'div',
              { className: 'cygnet-gallery-fields' },
              el(
                'label',
                {},
                this.publish,
                ' Also publish to the site’s gallery (everyone who reaches the hub sees it)'
              ),
              this.galleryTitle,
              this.description
            )
          ]
        : []),
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
      if (this.gallery && this.publish.checked) {
        await this.toGallery(share, true);
      }
    } catch (error) {
      this.message.textContent = (error as Error).message;
      notifyError(`Share ${this.path}`, error);
    }
    await this.refresh();
  }

  /** Publish `share` to the gallery (with the title and description typed), or unpublish it. */
  private async toGallery(share: Share, publish: boolean): Promise<void> {
    const done = await reported(publish ? 'Publish to gallery' : 'Unpublish', () =>
      (publish
        ? postJSON(`shares/${share.id}/gallery`, {
            title: this.galleryTitle.value,
            description: this.description.value
          })
        : requestAPI(`shares/${share.id}/gallery`, { method: 'DELETE' })
      ).then(() => true)
    );
    if (done) {
      Notification.success(publish ? 'Published to the gallery' : 'Removed from the gallery', { autoClose: 4000 });
    }
    await this.refresh();
  }

  private galleryButton(share: Share): HTMLElement[] {
    if (!this.gallery || share.kind !== 'notebook') {
      return [];
    }
    const published = !!share.gallery;
    return [
      el('button', {
        className: `jp-mod-styled cygnet-gallery-${published ? 'unpublish' : 'publish-button'}`,
        textContent: published ? 'Unpublish' : 'Publish',
        title: published
          ? `In the gallery as “${share.gallery?.title}”`
          : 'Publish this snapshot to the site’s gallery',
        onclick: () => void this.toGallery(share, !published)
      })
    ];
  }

  private async refresh(): Promise<void> {
    try {
      const shares = await requestAPI<Share[]>(`shares?path=${encodeURIComponent(this.path)}`);
      this.list.replaceChildren(
        ...(shares.length
          ? shares.map(s => shareRow(s, [...this.galleryButton(s), revokeButton(s, () => void this.refresh())]))
          : [el('li', {}, 'none')])
      );
    } catch (error) {
      this.list.replaceChildren(el('li', {}, `could not list links: ${(error as Error).message}`));
    }
  }
}

/** The Share dialog; under a hub (`shareSession` given), its owner also finds *Share Session…*
 * there, and a notebook can be published to the site's gallery. */
export async function showShareDialog(path: string, shareSession?: () => void): Promise<void> {
  const sessionButton = Dialog.createButton({
    label: 'Share Session…',
    caption: 'Let named colleagues open this running session and work in it with you',
    className: 'cygnet-share-session'
  });
  const answer = await showDialog({
    title: `Share ${path}`,
    body: new ShareBody(path, !!shareSession),
    buttons: shareSession ? [sessionButton, Dialog.okButton({ label: 'Done' })] : [Dialog.okButton({ label: 'Done' })]
  });
  if (shareSession && answer.button.label === sessionButton.label) {
    shareSession();
  }
}

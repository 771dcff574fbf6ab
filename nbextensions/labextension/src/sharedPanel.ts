// The "Shared" panel: the user's own links (revocable), what others shared with them, and the
// folders shared live (under a hub).
import { Widget } from '@lumino/widgets';

import { notifyError, requestAPI, serverURL } from './api';
import { el } from './dom';
import { liveFolderRows, listLiveFolders } from './liveFolders';
import { sessionInfo } from './sessionShare';
import { Share, revokeButton, shareRow } from './shareDialog';

export class SharedPanel extends Widget {
  private readonly mine = el('ul', { className: 'cygnet-shared-mine' });
  private readonly withMe = el('ul', { className: 'cygnet-shared-with-me' });
  private readonly folders = el('ul', { className: 'cygnet-shared-folders' });

  constructor() {
    super();
    this.id = 'cygnet-shared-panel';
    this.title.caption = 'Shared';
    this.addClass('cygnet-shared-panel');
    const refresh = el('button', {
      className: 'jp-mod-styled',
      textContent: 'Refresh',
      onclick: () => void this.refresh()
    });
    this.node.append(
      el('h2', {}, 'Shared'),
      refresh,
      el('h3', {}, 'My links'),
      this.mine,
      el('h3', {}, 'Shared with me'),
      this.withMe,
      el('h3', {}, 'Live folders'),
      this.folders
    );
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      const [mine, withMe] = await Promise.all([requestAPI<Share[]>('shares'), requestAPI<Share[]>('shares/with-me')]);
      this.mine.replaceChildren(
        ...(mine.length
          ? mine.map(s => shareRow(s, [revokeButton(s, () => void this.refresh())]))
          : [el('li', {}, 'You have not shared anything yet.')])
      );
      this.withMe.replaceChildren(
        ...(withMe.length
          ? withMe.map(s =>
              shareRow(s, [
                el('span', {}, ` from ${s.owner ?? '?'} `),
                el('a', {
                  className: 'cygnet-shared-open',
                  href: s.open_url ?? serverURL('cygnet', 'open') + `?shared=${s.id}`,
                  textContent: 'Open a copy'
                })
              ])
            )
          : [el('li', {}, 'Nothing shared with you.')])
      );
    } catch (error) {
      notifyError('Shared', error);
    }
    await this.refreshFolders();
  }

  private async refreshFolders(): Promise<void> {
    try {
      const [listing, info] = await Promise.all([listLiveFolders(), sessionInfo()]);
      this.folders.replaceChildren(...liveFolderRows(listing, info?.you ?? null, () => void this.refresh()));
    } catch (error) {
      // Away from a hub there are none: say why, in the list, not as an alarm.
      this.folders.replaceChildren(el('li', {}, (error as Error).message));
    }
  }
}

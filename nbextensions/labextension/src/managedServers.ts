// The Spark panel's list of the user's managed Spark Connect servers (one per connect-managed
// cluster and software view): state, Spark UI link, the end of the log, Start and Stop.
import { Widget } from '@lumino/widgets';

import { notifyError, postJSON, requestAPI } from './api';
import { el } from './dom';

export interface ManagedServer {
  id: string;
  cluster: string;
  view: string;
  state: string;
  ui_url: string | null;
  error: string | null;
  log_tail?: string;
}

const REFRESH_MS = 5000;

export class ManagedServers extends Widget {
  private readonly list = el('ul', { className: 'cygnet-spark-servers' });
  private readonly startButton = el('button', { className: 'cygnet-spark-server-start jp-mod-styled' }, 'Start server');
  private cluster = '';
  private timer = 0;

  constructor() {
    super();
    this.addClass('cygnet-spark-managed');
    this.node.append(el('div', { className: 'cygnet-spark-heading' }, 'My Spark Connect servers'), this.list);
    this.node.append(this.startButton);
    this.startButton.onclick = () => void this.start();
    void this.refresh();
    this.timer = window.setInterval(() => {
      if (this.node.offsetParent !== null) {
        // shown (it lives in the Spark panel's DOM, not as a Lumino child)
        void this.refresh();
      }
    }, REFRESH_MS);
  }

  /** The cluster chosen in the panel: Start is offered for connect-managed ones. */
  choose(cluster: string, managed: boolean): void {
    this.cluster = cluster;
    this.startButton.hidden = !managed;
  }

  async refresh(): Promise<void> {
    let servers: ManagedServer[];
    try {
      servers = await requestAPI<ManagedServer[]>('spark/servers');
    } catch {
      return; // the server is away: keep what is shown
    }
    this.list.replaceChildren(...servers.map(server => this.item(server)));
    if (!servers.length) {
      this.list.append(el('li', { className: 'cygnet-spark-server-none' }, 'none running'));
    }
  }

  private item(server: ManagedServer): HTMLElement {
    const stop = el('button', { className: 'cygnet-spark-server-stop jp-mod-styled' }, 'Stop');
    stop.onclick = async () => {
      try {
        await requestAPI(`spark/servers/${server.id}`, { method: 'DELETE' });
      } catch (error) {
        notifyError('Spark server', error);
      }
      await this.refresh();
    };
    const log = el('details', { className: 'cygnet-spark-server-log' }, el('summary', {}, 'log'));
    log.ontoggle = async () => {
      if (log.open) {
        const full = await requestAPI<ManagedServer>(`spark/servers/${server.id}`).catch(() => null);
        log.append(el('pre', {}, full?.log_tail ?? '(no log)'));
      } else {
        log.querySelector('pre')?.remove();
      }
    };
    const ui = el('a', { href: server.ui_url ?? '', target: '_blank', rel: 'noopener' }, 'UI');
    ui.hidden = server.state !== 'ready' || !server.ui_url;
    const item = el(
      'li',
      { className: 'cygnet-spark-server' },
      el('span', { className: 'cygnet-spark-server-name' }, `${server.cluster} · ${server.view || 'service'}`),
      el('span', { className: 'cygnet-spark-server-state' }, server.state),
      ui,
      stop,
      log
    );
    item.dataset.state = server.state;
    if (server.error) {
      item.append(el('div', { className: 'cygnet-spark-error' }, server.error));
    }
    return item;
  }

  private async start(): Promise<void> {
    try {
      await postJSON('spark/servers', { cluster: this.cluster });
    } catch (error) {
      notifyError('Spark server', error);
    }
    await this.refresh();
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }
}

// The Spark panel (left sidebar): pick a cluster, bundles and options, connect the current
// notebook's kernel over the `cygnet.spark` comm, and follow its state, Spark UI and log.
import { Notification } from '@jupyterlab/apputils';
import { NotebookPanel, INotebookTracker } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { el } from './dom';

import { requestAPI } from './api';
import {
  Bundle,
  Cluster,
  KernelState,
  KnownOption,
  SparkChoice,
  bundlesFor,
  choiceFromMetadata,
  connectMessage,
  describeState,
  formatOptions,
  metadataWithChoice,
  parseOptions,
  suggestOptions
} from './sparkModel';

export const COMM_TARGET = 'cygnet.spark';
const LOG_POLL_MS = 3000;

interface Catalogue {
  clusters: Cluster[];
  bundles: Bundle[];
  options: KnownOption[];
}


export class SparkPanel extends Widget {
  private catalogue: Catalogue | null = null;
  private notebook: NotebookPanel | null = null;
  private kernel: Kernel.IKernelConnection | null = null;
  private comm: Kernel.IComm | null = null;
  private state: KernelState | null = null;
  private logs: string[] = [];
  private logTimer = 0;

  private readonly clusterSelect = el('select', { className: 'cygnet-spark-cluster' });
  private readonly bundleList = el('div', { className: 'cygnet-spark-bundles' });
  private readonly optionsText = el('textarea', {
    className: 'cygnet-spark-options',
    rows: 5,
    placeholder: 'spark.executor.memory=4g'
  });
  private readonly optionInput = el('input', {
    className: 'cygnet-spark-option-name',
    placeholder: 'Add an option: type to search'
  });
  private readonly optionList = el('datalist', { id: 'cygnet-spark-known-options' });
  private readonly optionHelp = el('div', { className: 'cygnet-spark-option-help' });
  private readonly connectButton = el('button', { className: 'jp-mod-styled jp-mod-accept cygnet-spark-connect' }, 'Connect');
  private readonly disconnectButton = el('button', { className: 'jp-mod-styled cygnet-spark-disconnect' }, 'Disconnect');
  private readonly status = el('div', { className: 'cygnet-spark-status' });
  private readonly error = el('div', { className: 'cygnet-spark-error' });
  private readonly uiLink = el('a', { className: 'cygnet-spark-ui', target: '_blank', rel: 'noopener' }, 'Spark UI');
  private readonly logView = el('pre', { className: 'cygnet-spark-log' });

  constructor(tracker: INotebookTracker) {
    super();
    this.id = 'cygnet-spark-panel';
    this.title.caption = 'Spark';
    this.addClass('cygnet-spark-panel');
    this.optionInput.setAttribute('list', this.optionList.id);
    this.node.append(
      el('h2', {}, 'Spark'),
      this.status,
      this.error,
      el('label', {}, 'Cluster', this.clusterSelect),
      el('div', { className: 'cygnet-spark-heading' }, 'Bundles'),
      this.bundleList,
      el('label', {}, 'Options (key=value, one per line)', this.optionsText),
      this.optionInput,
      this.optionList,
      this.optionHelp,
      el('div', { className: 'cygnet-spark-buttons' }, this.connectButton, this.disconnectButton),
      this.uiLink,
      el('div', { className: 'cygnet-spark-heading' }, 'Log'),
      this.logView
    );
    this.clusterSelect.onchange = () => {
      this.renderBundles(this.currentChoice(false).bundles);
      this.saveChoice();
    };
    this.optionsText.onchange = () => this.saveChoice();
    this.optionInput.oninput = () => this.renderSuggestions();
    this.optionInput.onkeydown = event => {
      if (event.key === 'Enter') {
        this.addOption(this.optionInput.value);
      }
    };
    this.optionInput.onchange = () => this.addOption(this.optionInput.value);
    this.connectButton.onclick = () => this.connect();
    this.disconnectButton.onclick = () => this.send({ action: 'disconnect' });
    tracker.currentChanged.connect(() => this.follow(tracker.currentWidget));
    void this.loadCatalogue().then(() => this.follow(tracker.currentWidget));
  }

  private async loadCatalogue(): Promise<void> {
    try {
      const [clusters, bundles, options] = await Promise.all([
        requestAPI<Cluster[]>('spark/clusters'),
        requestAPI<Bundle[]>('spark/bundles'),
        requestAPI<KnownOption[]>('spark/options')
      ]);
      this.catalogue = { clusters, bundles, options };
    } catch (error) {
      this.catalogue = { clusters: [{ name: 'local', display_name: 'Local', kind: 'local' }], bundles: [], options: [] };
      Notification.error(`Spark catalogue: ${(error as Error).message}`, { autoClose: 10000 });
    }
    this.clusterSelect.replaceChildren(
      ...this.catalogue.clusters.map(c => el('option', { value: c.name }, `${c.display_name} (${c.kind})`))
    );
    this.renderSuggestions();
  }

  /** Follow the notebook in focus: show its saved choice and the state of its kernel. */
  private follow(notebook: NotebookPanel | null): void {
    if (this.notebook !== notebook) {
      this.notebook?.sessionContext.kernelChanged.disconnect(this.onKernelChanged, this);
      this.notebook = notebook;
      notebook?.sessionContext.kernelChanged.connect(this.onKernelChanged, this);
    }
    if (!notebook) {
      this.showChoice(choiceFromMetadata({}));
      void this.attach(null);
      return;
    }
    void notebook.context.ready.then(() => {
      if (this.notebook === notebook) {
        this.showChoice(choiceFromMetadata({ cygnet: notebook.model?.getMetadata('cygnet') }));
      }
    });
    void notebook.sessionContext.ready.then(() => {
      if (this.notebook === notebook) {
        void this.attach(notebook.sessionContext.session?.kernel ?? null);
      }
    });
  }

  private onKernelChanged(): void {
    void this.attach(this.notebook?.sessionContext.session?.kernel ?? null);
  }

  /** Open the comm to a kernel (a new one after a restart or a kernel change). */
  private async attach(kernel: Kernel.IKernelConnection | null): Promise<void> {
    if (kernel === this.kernel && this.comm && !this.comm.isDisposed) {
      return;
    }
    const old = this.comm;
    this.comm = null;
    if (old && !old.isDisposed) {
      try {
        old.close();
      } catch {
        old.dispose(); // its kernel is gone
      }
    }
    this.kernel = kernel;
    this.state = null;
    this.logs = [];
    this.render();
    if (!kernel) {
      return;
    }
    kernel.statusChanged.connect(this.onKernelStatus, this);
    const comm = kernel.createComm(COMM_TARGET);
    comm.onMsg = msg => this.onMessage(msg);
    comm.onClose = () => {
      if (this.comm === comm) {
        this.comm = null;
        this.state = { state: 'error', error: 'this kernel has no Cygnet Spark support: choose a kernel of a Cygnet view' };
        this.render();
      }
    };
    this.comm = comm;
    comm.open({});
  }

  private onKernelStatus(kernel: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (kernel !== this.kernel) {
      kernel.statusChanged.disconnect(this.onKernelStatus, this);
    } else if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this.comm = null;  // the kernel's side is gone; the next 'idle' kernel gets a new comm
      this.kernel = null;
      this.state = { state: 'disconnected' };
      this.render();
      if (status !== 'dead') {
        void this.notebook?.sessionContext.ready.then(() => this.attach(this.notebook?.sessionContext.session?.kernel ?? null));
      }
    }
  }

  private onMessage(msg: KernelMessage.ICommMsgMsg): void {
    const data = msg.content.data as any;
    if (data.action === 'state' || data.action === 'error') {
      this.state = data.state;
      if (data.action === 'error') {
        this.state = { ...(data.state ?? {}), state: data.state?.state === 'connected' ? 'connected' : 'error', error: data.message };
        Notification.error(`Spark: ${data.message}`, { autoClose: 10000 });
      }
      this.followLogs();
    } else if (data.action === 'log') {
      this.logs.push(String(data.line));
    } else if (data.action === 'logs') {
      this.logs = (data.lines ?? []).map(String);
    }
    this.render();
  }

  private followLogs(): void {
    window.clearInterval(this.logTimer);
    if (this.state?.state === 'connected') {
      this.logTimer = window.setInterval(() => {
        if (this.isVisible) {
          this.send({ action: 'logs' });
        }
      }, LOG_POLL_MS);
    }
  }

  private send(data: Record<string, unknown>): void {
    if (!this.comm) {
      Notification.warning('Spark: open a notebook with a Cygnet kernel first');
      return;
    }
    this.comm.send(data as any);
  }

  private connect(): void {
    let choice: SparkChoice;
    try {
      choice = this.currentChoice(true);
    } catch (error) {
      this.error.textContent = (error as Error).message;
      return;
    }
    this.saveChoice();
    this.logs = [];
    this.send(connectMessage(choice));
  }

  private currentChoice(strict: boolean): SparkChoice {
    let options: Record<string, string> = {};
    try {
      options = parseOptions(this.optionsText.value);
    } catch (error) {
      if (strict) {
        throw new Error(`Options: ${(error as Error).message}`);
      }
    }
    const bundles = Array.from(this.bundleList.querySelectorAll<HTMLInputElement>('input:checked')).map(i => i.value);
    return { cluster: this.clusterSelect.value || 'local', bundles, options };
  }

  /** Keep the choice in the notebook's metadata, so reopening it (or %spark connect) finds it. */
  private saveChoice(): void {
    const model = this.notebook?.model;
    if (!model) {
      return;
    }
    const choice = this.currentChoice(false);
    const metadata = metadataWithChoice({ cygnet: model.getMetadata('cygnet') ?? {} }, choice);
    model.setMetadata('cygnet', metadata.cygnet);
  }

  private showChoice(choice: SparkChoice): void {
    if (this.catalogue && !this.catalogue.clusters.some(c => c.name === choice.cluster)) {
      this.clusterSelect.append(el('option', { value: choice.cluster }, `${choice.cluster} (not in this site's catalogue)`));
    }
    this.clusterSelect.value = choice.cluster;
    this.optionsText.value = formatOptions(choice.options);
    this.renderBundles(choice.bundles);
  }

  private renderBundles(checked: string[]): void {
    const offered = bundlesFor(this.catalogue?.bundles ?? [], this.clusterSelect.value || 'local');
    this.bundleList.replaceChildren(
      ...(offered.length
        ? offered.map(b =>
            el(
              'label',
              { className: 'cygnet-spark-bundle', title: b.description ?? '' },
              el('input', { type: 'checkbox', value: b.name, checked: checked.includes(b.name), onchange: () => this.saveChoice() }),
              b.display_name
            )
          )
        : [el('span', { className: 'cygnet-spark-none' }, 'none for this cluster')])
    );
  }

  private renderSuggestions(): void {
    const found = suggestOptions(this.catalogue?.options ?? [], this.optionInput.value, 30);
    this.optionList.replaceChildren(...found.map(o => el('option', { value: o.name }, o.description ?? '')));
    const exact = (this.catalogue?.options ?? []).find(o => o.name === this.optionInput.value.trim());
    this.optionHelp.textContent = exact ? `${exact.category ?? ''}: ${exact.description ?? ''}` : '';
  }

  private addOption(name: string): void {
    const key = name.trim().split('=')[0].trim();
    if (!key) {
      return;
    }
    const text = this.optionsText.value.trimEnd();
    this.optionsText.value = `${text ? `${text}\n` : ''}${key}=`;
    this.optionInput.value = '';
    this.optionHelp.textContent = '';
    this.optionsText.focus();
    this.optionsText.setSelectionRange(this.optionsText.value.length, this.optionsText.value.length);
  }

  private render(): void {
    const kernelName = this.kernel ? this.kernel.name : null;
    const state = this.state;
    this.status.textContent = describeState(state, kernelName);
    this.status.dataset.state = state?.state ?? 'none';
    this.error.textContent = state?.state === 'error' ? state.error ?? '' : '';
    const busy = state?.state === 'connecting';
    const connected = state?.state === 'connected';
    this.connectButton.disabled = !this.comm || busy || connected;
    this.disconnectButton.disabled = !this.comm || !connected;
    this.clusterSelect.disabled = busy || connected;
    this.uiLink.hidden = !state?.ui_url;
    this.uiLink.href = state?.ui_url ?? '';
    this.logView.textContent = this.logs.slice(-200).join('\n');
    this.logView.scrollTop = this.logView.scrollHeight;
  }

  dispose(): void {
    window.clearInterval(this.logTimer);
    this.comm?.dispose();
    super.dispose();
  }
}

// The Spark panel (left sidebar): pick a cluster, bundles and options, connect the current
// notebook's kernel, and follow its state, Spark UI and log. The kernel side is reached
// through a SparkConnector; the panel only renders what it holds.
import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { notifyError, requestAPI } from './api';
import { ManagedServers } from './managedServers';
import { el } from './dom';
import { SparkConnector } from './sparkConnector';
import {
  Bundle,
  Cluster,
  KnownOption,
  SparkChoice,
  bundlesFor,
  choiceFromMetadata,
  defaultCluster,
  connectMessage,
  describeState,
  formatOptions,
  metadataWithChoice,
  parseOptions,
  suggestOptions
} from './sparkModel';

const LOG_POLL_MS = 3000;

interface Catalogue {
  clusters: Cluster[];
  bundles: Bundle[];
  options: KnownOption[];
}

export class SparkPanel extends Widget {
  private catalogue: Catalogue | null = null;
  private readonly connector: SparkConnector;
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
  private readonly connectButton = el(
    'button',
    { className: 'jp-mod-styled jp-mod-accept cygnet-spark-connect' },
    'Connect'
  );
  private readonly disconnectButton = el(
    'button',
    { className: 'jp-mod-styled cygnet-spark-disconnect' },
    'Disconnect'
  );
  private readonly status = el('div', { className: 'cygnet-spark-status' });
  private readonly error = el('div', { className: 'cygnet-spark-error' });
  private readonly uiLink = el('a', { className: 'cygnet-spark-ui', target: '_blank', rel: 'noopener' }, 'Spark UI');
  private readonly logView = el('pre', { className: 'cygnet-spark-log' });
  private readonly servers = new ManagedServers();

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
      this.logView,
      this.servers.node
    );
    this.clusterSelect.onchange = () => {
      this.renderBundles(this.currentChoice(false).bundles);
      this.saveChoice();
      this.showServerChoice();
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
    this.connector = new SparkConnector(tracker);
    this.connector.changed.connect(() => this.render());
    this.connector.failed.connect((_, message) => notifyError('Spark', message));
    this.connector.notebookChanged.connect((_, notebook) => this.showSavedChoice(notebook));
    void this.loadCatalogue().then(() => {
      this.showSavedChoice(this.connector.notebook);
      this.showServerChoice();
    });
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
      this.catalogue = {
        clusters: [{ name: 'local', display_name: 'Local', kind: 'local' }],
        bundles: [],
        options: []
      };
      notifyError('Spark catalogue', error);
    }
    this.clusterSelect.replaceChildren(
      ...this.catalogue.clusters.map(c => el('option', { value: c.name }, `${c.display_name} (${c.kind})`))
    );
    this.renderSuggestions();
  }

  private defaultCluster(): string {
    return defaultCluster(this.catalogue?.clusters ?? []);
  }

  /** Show the saved choice of the notebook in focus, once it is loaded. */
  private showSavedChoice(notebook: NotebookPanel | null): void {
    if (!notebook) {
      this.showChoice(choiceFromMetadata({}, this.defaultCluster()));
      return;
    }
    void notebook.context.ready.then(() => {
      if (this.connector.notebook === notebook) {
        this.showChoice(choiceFromMetadata({ cygnet: notebook.model?.getMetadata('cygnet') }, this.defaultCluster()));
      }
    });
  }

  /** While connected, ask for the driver's log every few seconds (when the panel is seen). */
  private followLogs(): void {
    const connected = this.connector.state?.state === 'connected';
    if (connected === (this.logTimer !== 0)) {
      return;
    }
    window.clearInterval(this.logTimer);
    this.logTimer = 0;
    if (connected) {
      this.logTimer = window.setInterval(() => {
        if (this.isVisible) {
          this.send({ action: 'logs' });
        }
      }, LOG_POLL_MS);
    }
  }

  private send(data: Record<string, unknown>): void {
    if (!this.connector.send(data)) {
      Notification.warning('Spark: open a notebook with a Cygnet kernel first');
    }
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
    this.connector.clearLogs();
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
    const model = this.connector.notebook?.model;
    if (!model) {
      return;
    }
    const choice = this.currentChoice(false);
    const metadata = metadataWithChoice({ cygnet: model.getMetadata('cygnet') ?? {} }, choice);
    model.setMetadata('cygnet', metadata.cygnet);
  }

  private showChoice(choice: SparkChoice): void {
    if (this.catalogue && !this.catalogue.clusters.some(c => c.name === choice.cluster)) {
      this.clusterSelect.append(
        el('option', { value: choice.cluster }, `${choice.cluster} (not in this site's catalogue)`)
      );
    }
    this.clusterSelect.value = choice.cluster;
    this.optionsText.value = formatOptions(choice.options);
    this.renderBundles(choice.bundles);
    this.showServerChoice();
  }

  private renderBundles(checked: string[]): void {
    const offered = bundlesFor(this.catalogue?.bundles ?? [], this.clusterSelect.value || 'local');
    this.bundleList.replaceChildren(
      ...(offered.length
        ? offered.map(b =>
            el(
              'label',
              { className: 'cygnet-spark-bundle', title: b.description ?? '' },
              el('input', {
                type: 'checkbox',
                value: b.name,
                checked: checked.includes(b.name),
                onchange: () => this.saveChoice()
              }),
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
    const { kernel, state, logs, attached } = this.connector;
    this.status.textContent = describeState(state, kernel ? kernel.name : null);
    this.status.dataset.state = state?.state ?? 'none';
    this.error.textContent = state?.state === 'error' ? (state.error ?? '') : '';
    const busy = state?.state === 'connecting';
    const connected = state?.state === 'connected';
    // The buttons say the state: Connecting... and Connected (disabled) while it holds.
    this.connectButton.textContent = busy ? 'Connecting\u2026' : connected ? 'Connected' : 'Connect';
    this.connectButton.disabled = !attached || busy || connected;
    this.disconnectButton.disabled = !attached || !connected;
    this.clusterSelect.disabled = busy || connected;
    this.node.dataset.sparkState = state?.state ?? 'none';
    this.uiLink.hidden = !state?.ui_url;
    this.uiLink.href = state?.ui_url ?? '';
    this.logView.textContent = logs.slice(-200).join('\n');
    this.logView.scrollTop = this.logView.scrollHeight;
    this.followLogs();
  }

  /** Start is offered for the chosen cluster when it is connect-managed. */
  private showServerChoice(): void {
    const name = this.clusterSelect.value;
    const kind = this.catalogue?.clusters.find(c => c.name === name)?.kind;
    this.servers.choose(name, kind === 'connect-managed');
  }

  dispose(): void {
    window.clearInterval(this.logTimer);
    this.servers.dispose();
    this.connector.dispose();
    super.dispose();
  }
}

// The compute panel (left sidebar), for Spark and Dask alike: pick a cluster from the site's
// catalogue (both engines' clusters, grouped), its options (Spark: bundles and options; Dask:
// workers or adaptive bounds, and a gateway's options), connect the current notebook's kernel,
// and follow its state, Spark UI or Dask workers and dashboard, and log. Each engine's kernel
// side is reached through an EngineConnector of its own (the same comm protocol shape); the
// panel only renders what they hold.
import { Notification } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { notifyError, requestAPI } from './api';
import { ManagedServers } from './managedServers';
import { el } from './dom';
import {
  DASK,
  DaskState,
  daskChoiceFromMetadata,
  daskChoiceOf,
  daskConnectMessage,
  describeDask,
  engineOf,
  parseWorkers
} from './daskModel';
import { EngineConnector, SPARK } from './engineConnector';
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
const DASK_POLL_MS = 3000;

interface Catalogue {
  clusters: Cluster[];
  bundles: Bundle[];
  options: KnownOption[];
}

export class ComputePanel extends Widget {
  private catalogue: Catalogue | null = null;
  private readonly connector: EngineConnector;
  private readonly dask: EngineConnector;
  private logTimer = 0;
  private daskTimer = 0;

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
  // Dask: workers or adaptive bounds before connecting; workers, dashboard and scaling after.
  private readonly daskWorkers = el('input', {
    className: 'cygnet-dask-workers',
    type: 'number',
    min: '0',
    placeholder: "the session's cores"
  });
  private readonly daskAdapt = el('input', { className: 'cygnet-dask-adapt', type: 'checkbox' });
  private readonly daskMin = el('input', { className: 'cygnet-dask-adapt-min', type: 'number', min: '0', value: '1' });
  private readonly daskMax = el('input', { className: 'cygnet-dask-adapt-max', type: 'number', min: '0', value: '4' });
  private readonly daskDetails = el('div', { className: 'cygnet-dask-details' });
  private readonly daskDashboard = el(
    'a',
    { className: 'cygnet-dask-dashboard', target: '_blank', rel: 'noopener' },
    'Dask dashboard'
  );
  private readonly daskScaleTo = el('input', { className: 'cygnet-dask-scale-to', type: 'number', min: '0' });
  private readonly daskScale = el('button', { className: 'jp-mod-styled cygnet-dask-scale' }, 'Scale');
  private readonly sparkBefore = el('div', { className: 'cygnet-spark-only' });
  private readonly sparkAfter = el('div', { className: 'cygnet-spark-only' });
  private readonly daskBefore = el('div', { className: 'cygnet-dask-only' });
  private readonly daskAfter = el('div', { className: 'cygnet-dask-only' });

  constructor(tracker: INotebookTracker) {
    super();
    this.id = 'cygnet-spark-panel';
    this.title.caption = 'Spark and Dask';
    this.addClass('cygnet-spark-panel');
    this.optionInput.setAttribute('list', this.optionList.id);
    this.sparkBefore.append(el('div', { className: 'cygnet-spark-heading' }, 'Bundles'), this.bundleList);
    this.sparkAfter.append(this.optionInput, this.optionList, this.optionHelp);
    this.daskBefore.append(
      el('label', {}, 'Workers', this.daskWorkers),
      el('label', { className: 'cygnet-dask-adapt-label' }, this.daskAdapt, ' Adapt to the load, between'),
      el('div', { className: 'cygnet-dask-bounds' }, this.daskMin, el('span', {}, 'and'), this.daskMax)
    );
    this.daskAfter.append(
      this.daskDetails,
      this.daskDashboard,
      el('div', { className: 'cygnet-dask-scale-row' }, this.daskScaleTo, this.daskScale)
    );
    this.node.append(
      el('h2', {}, 'Compute: Spark and Dask'),
      this.status,
      this.error,
      el('label', {}, 'Cluster', this.clusterSelect),
      this.sparkBefore,
      this.daskBefore,
      el('label', {}, 'Options (key=value, one per line)', this.optionsText),
      this.sparkAfter,
      el('div', { className: 'cygnet-spark-buttons' }, this.connectButton, this.disconnectButton),
      this.uiLink,
      this.daskAfter,
      el('div', { className: 'cygnet-spark-heading' }, 'Log'),
      this.logView,
      this.servers.node
    );
    this.clusterSelect.onchange = () => {
      if (this.engine() === 'spark') {
        this.renderBundles(this.currentChoice(false).bundles);
        this.saveChoice();
      }
      this.showServerChoice();
      this.render();
    };
    this.daskAdapt.onchange = () => this.render();
    this.daskScale.onclick = () => this.scaleDask();
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
    this.connector = new EngineConnector(tracker, SPARK);
    this.connector.changed.connect(() => this.render());
    this.connector.failed.connect((_, message) => notifyError('Spark', message));
    this.dask = new EngineConnector(tracker, DASK);
    this.dask.changed.connect(() => this.render());
    this.dask.failed.connect((_, message) => notifyError('Dask', message));
    this.connector.notebookChanged.connect((_, notebook) => this.showSavedChoice(notebook));
    void this.loadCatalogue().then(() => {
      this.showSavedChoice(this.connector.notebook);
      this.showServerChoice();
    });
  }

  private async loadCatalogue(): Promise<void> {
    try {
      const [clusters, bundles, options] = await Promise.all([
        requestAPI<Cluster[]>('compute/clusters'),
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
    const option = (c: Cluster) => el('option', { value: c.name }, `${c.display_name} (${c.kind})`);
    const spark = this.catalogue.clusters.filter(c => engineOf([c], c.name) === 'spark');
    const dask = this.catalogue.clusters.filter(c => engineOf([c], c.name) === 'dask');
    this.clusterSelect.replaceChildren(
      ...(dask.length
        ? [
            el('optgroup', { label: 'Spark' }, ...spark.map(option)),
            el('optgroup', { label: 'Dask' }, ...dask.map(option))
          ]
        : spark.map(option))
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
        const metadata = { cygnet: notebook.model?.getMetadata('cygnet') };
        this.showChoice(choiceFromMetadata(metadata, this.defaultCluster()));
        this.showDaskChoice(metadata);
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
        if (this.isVisible && this.engine() === 'spark') {
          this.connector.send({ action: 'logs' });
        }
      }, LOG_POLL_MS);
    }
  }

  /** While a Dask cluster is connected, ask for its workers every few seconds (when seen). */
  private followDask(): void {
    const connected = this.dask.state?.state === 'connected';
    if (connected === (this.daskTimer !== 0)) {
      return;
    }
    window.clearInterval(this.daskTimer);
    this.daskTimer = 0;
    if (connected) {
      this.daskTimer = window.setInterval(() => {
        if (this.isVisible && this.engine() === 'dask') {
          this.dask.send({ action: 'get-state' });
        }
      }, DASK_POLL_MS);
    }
  }

  /** The engine of the chosen cluster, and its connector. */
  private engine(): 'spark' | 'dask' {
    return engineOf(this.catalogue?.clusters ?? [], this.clusterSelect.value || 'local');
  }

  private active(): EngineConnector {
    return this.engine() === 'dask' ? this.dask : this.connector;
  }

  private send(data: Record<string, unknown>): void {
    const connector = this.active();
    if (!connector.send(data)) {
      Notification.warning(`${connector.engine.name}: open a notebook with a Cygnet kernel first`);
    }
  }

  private connect(): void {
    if (this.engine() === 'dask') {
      this.connectDask();
      return;
    }
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

  private connectDask(): void {
    let message: Record<string, unknown>;
    try {
      const adapt = this.daskAdapt.checked ? { minimum: this.daskMin.value, maximum: this.daskMax.value } : null;
      message = daskConnectMessage(
        this.clusterSelect.value,
        this.daskWorkers.value,
        adapt,
        parseOptions(this.optionsText.value)
      );
    } catch (error) {
      this.error.textContent = (error as Error).message;
      return;
    }
    this.error.textContent = '';
    const model = this.dask.notebook?.model;
    if (model) {
      // Kept with the notebook, so reopening it (or %dask connect) finds it, as Spark's choice.
      model.setMetadata('cygnet', { ...((model.getMetadata('cygnet') as any) ?? {}), dask: daskChoiceOf(message) });
    }
    this.dask.clearLogs();
    this.send(message);
  }

  private scaleDask(): void {
    const state = this.dask.state as DaskState | null;
    try {
      const workers = parseWorkers(this.daskScaleTo.value, state?.max_workers ?? 0);
      this.dask.send({ action: 'scale', workers });
    } catch (error) {
      this.error.textContent = (error as Error).message;
    }
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
    if (!model || this.engine() !== 'spark') {
      return; // the saved choice is Spark's (metadata.cygnet.spark)
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

  /** A saved Dask choice fills the Dask fields; a notebook with no Spark choice opens on it. */
  private showDaskChoice(metadata: unknown): void {
    const choice = daskChoiceFromMetadata(metadata);
    if (!choice) {
      return;
    }
    this.daskAdapt.checked = !!choice.adapt;
    this.daskWorkers.value = choice.workers !== undefined ? String(choice.workers) : '';
    if (choice.adapt) {
      [this.daskMin.value, this.daskMax.value] = choice.adapt.map(String);
    }
    if (!(metadata as any)?.cygnet?.spark && this.catalogue?.clusters.some(c => c.name === choice.cluster)) {
      this.clusterSelect.value = choice.cluster;
      this.optionsText.value = formatOptions(choice.options);
    }
    this.render();
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
    const engine = this.engine();
    const connector = this.active();
    const { kernel, state, logs, attached } = connector;
    for (const part of [this.sparkBefore, this.sparkAfter]) {
      part.hidden = engine !== 'spark';
    }
    for (const part of [this.daskBefore, this.daskAfter]) {
      part.hidden = engine !== 'dask';
    }
    this.optionsText.placeholder =
      engine === 'dask' ? "worker_cores=2 (a gateway's options)" : 'spark.executor.memory=4g';
    this.status.textContent = describeState(state, kernel ? kernel.name : null, connector.engine.name);
    this.status.dataset.state = state?.state ?? 'none';
    this.error.textContent = state?.state === 'error' ? (state.error ?? '') : '';
    const busy = state?.state === 'connecting';
    const connected = state?.state === 'connected';
    // The buttons say the state: Connecting... and Connected (disabled) while it holds.
    this.connectButton.textContent = busy ? 'Connecting\u2026' : connected ? 'Connected' : 'Connect';
    this.connectButton.disabled = !attached || busy || connected;
    this.disconnectButton.disabled = !attached || !connected;
    this.clusterSelect.disabled = busy;
    // While an engine is connected, its other clusters wait for a disconnect; the other
    // engine's stay open (a kernel can hold a Spark session and a Dask client at once).
    for (const option of Array.from(this.clusterSelect.querySelectorAll('option'))) {
      const of = engineOf(this.catalogue?.clusters ?? [], option.value) === 'dask' ? this.dask : this.connector;
      option.disabled = of.state?.state === 'connected' && option.value !== of.state?.cluster;
    }
    this.node.dataset.sparkState = this.connector.state?.state ?? 'none';
    this.node.dataset.daskState = this.dask.state?.state ?? 'none';
    const dask = this.dask.state as DaskState | null;
    this.daskDetails.textContent = describeDask(dask);
    this.daskDashboard.hidden = !dask?.dashboard_url || dask.state !== 'connected';
    this.daskDashboard.href = dask?.dashboard_url ?? '';
    this.daskScale.disabled = dask?.state !== 'connected';
    this.daskScaleTo.disabled = dask?.state !== 'connected';
    this.daskMin.disabled = this.daskMax.disabled = !this.daskAdapt.checked;
    this.daskWorkers.disabled = this.daskAdapt.checked;
    this.uiLink.hidden = engine !== 'spark' || !state?.ui_url;
    this.uiLink.href = state?.ui_url ?? '';
    this.logView.textContent = logs.slice(-200).join('\n');
    this.logView.scrollTop = this.logView.scrollHeight;
    this.followLogs();
    this.followDask();
  }

  /** Start is offered for the chosen cluster when it is connect-managed. */
  private showServerChoice(): void {
    const name = this.clusterSelect.value;
    const kind = this.catalogue?.clusters.find(c => c.name === name)?.kind;
    this.servers.choose(name, kind === 'connect-managed');
  }

  dispose(): void {
    window.clearInterval(this.logTimer);
    window.clearInterval(this.daskTimer);
    this.servers.dispose();
    this.connector.dispose();
    this.dask.dispose();
    super.dispose();
  }
}

// Cygnet's JupyterLab front end: every feature of the service one click away.
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, ToolbarButton } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon, runIcon, shareIcon } from '@jupyterlab/ui-components';

import { showHistory } from './historyDialog';
import { KerberosStatus, authenticate } from './kerberosStatus';
import { watchSessionEnd } from './sessionLimit';
import { copyOpenLink, openRepository } from './openRepo';
import { watchSparkProgress } from './progressCancel';
import { runAsBatchJob } from './runDialog';
import { SessionStatus, sessionInfo, showSessionShareDialog } from './sessionShare';
import { RunsPanel } from './runsPanel';
import { showShareDialog } from './shareDialog';
import { SharedPanel } from './sharedPanel';
import { openWithOwnKernel, showLiveFolderDialog } from './liveFolders';
import { ComputePanel } from './computePanel';
import { syncToBox } from './syncDialog';
import { terminalInView } from './terminalInView';
import { ViewStatus } from './viewStatus';

const sparkIcon = new LabIcon({
  name: 'cygnet:spark',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" d="M12 2l2.4 6.9L21 9.5l-5.2 4.3L17.5 21 12 17l-5.5 4 1.7-7.2L3 9.5l6.6-.6z"/></svg>'
});

const COMMANDS = {
  spark: 'cygnet:open-spark-panel',
  share: 'cygnet:share',
  shareCurrent: 'cygnet:share-notebook',
  sync: 'cygnet:sync-to-box',
  openRepo: 'cygnet:open-git-repository',
  copyLink: 'cygnet:copy-open-link',
  kerberos: 'cygnet:kerberos-authenticate',
  terminalInView: 'cygnet:terminal-in-view',
  runBatch: 'cygnet:run-as-batch-job',
  history: 'cygnet:history',
  shareSession: 'cygnet:share-session',
  shareFolderLive: 'cygnet:share-folder-live',
  ownKernel: 'cygnet:open-with-own-kernel'
};

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'cygnet-lab:plugin',
  description: "Cygnet's compute panel, view indicator, Kerberos status, sharing, sync and open-repository commands.",
  autoStart: true,
  requires: [INotebookTracker, IFileBrowserFactory, ILabShell],
  optional: [ICommandPalette, IStatusBar],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    browsers: IFileBrowserFactory,
    shell: ILabShell,
    palette: ICommandPalette | null,
    statusBar: IStatusBar | null
  ) => {
    const { commands } = app;
    const compute = new ComputePanel(notebooks);
    compute.title.icon = sparkIcon;
    shell.add(compute, 'left', { rank: 600 });
    const shared = new SharedPanel();
    shared.title.icon = shareIcon;
    shell.add(shared, 'left', { rank: 610 });
    const runs = new RunsPanel(path => void commands.execute('docmanager:open', { path }));
    runs.title.icon = runIcon;
    shell.add(runs, 'left', { rank: 620 });

    // Under a hub, the owner shares the running session with colleagues; to a colleague, the
    // status bar says whose session it is, and the owner's own tools (links, runs) are not shown.
    const sessionStatus = new SessionStatus();
    let owner = false;
    const shareSession = () => (owner ? () => void commands.execute(COMMANDS.shareSession) : undefined);

    const selectedPath = () => browsers.tracker.currentWidget?.selectedItems().next()?.value?.path;
    const notebookPath = () => notebooks.currentWidget?.context.path;

    commands.addCommand(COMMANDS.spark, {
      label: 'Compute',
      caption: 'Connect this notebook to a Spark or Dask cluster',
      icon: sparkIcon,
      execute: () => shell.activateById(compute.id)
    });
    commands.addCommand(COMMANDS.share, {
      label: 'Share…',
      caption: 'Create a link to a snapshot of this file or folder',
      icon: shareIcon,
      execute: () => {
        const path = selectedPath();
        return path === undefined ? undefined : showShareDialog(path, shareSession());
      }
    });
    commands.addCommand(COMMANDS.shareCurrent, {
      label: 'Share Notebook…',
      icon: shareIcon,
      isEnabled: () => !!notebookPath(),
      execute: () => {
        const path = notebookPath();
        return path ? showShareDialog(path, shareSession()) : undefined;
      }
    });
    commands.addCommand(COMMANDS.sync, {
      label: 'Sync to Box…',
      caption: 'Mirror a workspace folder to your box',
      execute: () => syncToBox(browsers.tracker.currentWidget?.model.path || '.')
    });
    const kerberosStatus = new KerberosStatus();
    watchSessionEnd();
    commands.addCommand(COMMANDS.kerberos, {
      label: 'Kerberos: Authenticate…',
      caption: 'Get a Kerberos ticket for EOS, Spark and the services around them',
      execute: async () => {
        if (await authenticate()) {
          await kerberosStatus.refresh();
        }
      }
    });
    // From the file browser's menu: the notebook clicked; elsewhere: the current notebook.
    const notebookToRun = (args: { fromBrowser?: boolean }) => {
      const selected = selectedPath();
      return args.fromBrowser && selected?.endsWith('.ipynb') ? selected : notebookPath();
    };
    commands.addCommand(COMMANDS.runBatch, {
      label: 'Run as Batch Job…',
      caption: 'Run this notebook non-interactively, with parameters, on a backend',
      icon: runIcon,
      isEnabled: args => !!notebookToRun(args),
      execute: args => {
        const path = notebookToRun(args);
        return path ? runAsBatchJob(path, () => void runs.refresh()) : undefined;
      }
    });
    commands.addCommand(COMMANDS.terminalInView, {
      label: 'New Terminal in View…',
      caption: 'A terminal in another software view than the default one',
      execute: () => terminalInView(commands)
    });
    // From the file browser's menu: the file clicked; elsewhere: the current notebook.
    const fileForHistory = (args: { fromBrowser?: boolean }) => (args.fromBrowser ? selectedPath() : notebookPath());
    commands.addCommand(COMMANDS.history, {
      label: 'History…',
      caption: 'Checkpoints and box versions of this file: diff and restore',
      isEnabled: args => !!fileForHistory(args),
      execute: args => {
        const path = fileForHistory(args);
        return path ? showHistory(path) : undefined;
      }
    });
    commands.addCommand(COMMANDS.shareSession, {
      label: 'Share Session…',
      caption: 'Let named colleagues open this running session and work in it with you',
      icon: shareIcon,
      isVisible: () => owner,
      execute: () => showSessionShareDialog(() => void sessionStatus.refresh())
    });
    const selectedFolder = () => {
      const item = browsers.tracker.currentWidget?.selectedItems().next()?.value;
      return item?.type === 'directory' ? item.path : undefined;
    };
    commands.addCommand(COMMANDS.shareFolderLive, {
      label: 'Share Folder Live…',
      caption: 'Let named colleagues work in this folder itself, from their own sessions',
      icon: shareIcon,
      isVisible: () => owner && !!selectedFolder(),
      execute: () => {
        const path = selectedFolder();
        return path ? showLiveFolderDialog(path) : undefined;
      }
    });
    // A colleague in this shared session runs code as its owner; their own kernel is one click away.
    let coEditor = false;
    commands.addCommand(COMMANDS.ownKernel, {
      label: 'Open My Own Kernel on This Notebook',
      caption:
        'Open this notebook in your own session, where code runs as you (the folder must be shared live with you)',
      isVisible: () => coEditor,
      isEnabled: () => !!notebookPath(),
      execute: () => {
        const path = notebookPath();
        return path ? openWithOwnKernel(path) : undefined;
      }
    });
    void sessionInfo().then(info => {
      coEditor = !!info?.hub && info.owner !== info.you;
      sessionStatus.display(info);
      owner = !!info?.hub && info.owner === info.you;
      if (info && info.owner !== info.you) {
        shared.dispose();
        runs.dispose();
      }
    });
    commands.addCommand(COMMANDS.openRepo, { label: 'Open Git Repository…', execute: () => openRepository() });
    commands.addCommand(COMMANDS.copyLink, {
      label: "Copy Open-Link of This Notebook's Repository",
      isEnabled: () => !!notebookPath(),
      execute: () => {
        const path = notebookPath();
        return path ? copyOpenLink(path) : undefined;
      }
    });

    app.contextMenu.addItem({ command: COMMANDS.share, selector: '.jp-DirListing-item[data-isdir]', rank: 10 });
    app.contextMenu.addItem({
      command: COMMANDS.shareFolderLive,
      selector: '.jp-DirListing-item[data-isdir="true"]',
      rank: 10
    });
    app.contextMenu.addItem({
      command: COMMANDS.runBatch,
      selector: '.jp-DirListing-item[data-file-type="notebook"]',
      rank: 11,
      args: { fromBrowser: true }
    });
    app.contextMenu.addItem({
      command: COMMANDS.history,
      selector: '.jp-DirListing-item[data-isdir="false"]',
      rank: 12,
      args: { fromBrowser: true }
    });
    for (const command of Object.values(COMMANDS)) {
      palette?.addItem({ command, category: 'Cygnet' });
    }
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (panel: NotebookPanel) => {
        const sparkButton = new ToolbarButton({
          icon: sparkIcon,
          label: 'Compute',
          tooltip: 'Open the compute panel (Spark and Dask clusters)',
          className: 'cygnet-toolbar-spark',
          onClick: () => void commands.execute(COMMANDS.spark)
        });
        const shareButton = new ToolbarButton({
          icon: shareIcon,
          tooltip: 'Share this notebook by link',
          className: 'cygnet-toolbar-share',
          onClick: () => void showShareDialog(panel.context.path, shareSession())
        });
        panel.toolbar.insertItem(10, 'cygnet-spark', sparkButton);
        const historyButton = new ToolbarButton({
          label: 'History',
          tooltip: "This notebook's checkpoints and box versions: diff and restore",
          className: 'cygnet-toolbar-history',
          onClick: () => void showHistory(panel.context.path)
        });
        panel.toolbar.insertItem(11, 'cygnet-share', shareButton);
        panel.toolbar.insertItem(12, 'cygnet-history', historyButton);
        watchSparkProgress(panel);
        return sparkButton;
      }
    });
    if (statusBar) {
      statusBar.registerStatusItem('cygnet-lab:view', {
        item: new ViewStatus(notebooks, app.serviceManager.kernelspecs),
        align: 'left',
        rank: 5
      });
      statusBar.registerStatusItem('cygnet-lab:kerberos', { item: kerberosStatus, align: 'left', rank: 6 });
      statusBar.registerStatusItem('cygnet-lab:session', { item: sessionStatus, align: 'left', rank: 7 });
    }
  }
};

export default plugin;

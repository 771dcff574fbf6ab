// The Spark panel's link to kernels: follows the notebook in focus, keeps a `cygnet.spark` comm
// open to its kernel (a new one after a restart or a kernel change), and tells what the kernel
// says through Lumino signals. The panel only renders what this holds.
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { KernelState, sparkUnsupported } from './sparkModel';

export const COMM_TARGET = 'cygnet.spark';
const NO_SUPPORT = 'this kernel has no Cygnet Spark support: choose a kernel of a Cygnet view';

export class SparkConnector {
  /** The notebook in focus, its kernel, the Spark state the kernel last reported, and the log. */
  notebook: NotebookPanel | null = null;
  kernel: Kernel.IKernelConnection | null = null;
  state: KernelState | null = null;
  logs: string[] = [];
  private comm: Kernel.IComm | null = null;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _notebookChanged = new Signal<this, NotebookPanel | null>(this);
  private readonly _failed = new Signal<this, string>(this);

  constructor(tracker: INotebookTracker) {
    tracker.currentChanged.connect(() => this.follow(tracker.currentWidget));
    this.follow(tracker.currentWidget);
  }

  /** The state or the log changed: render again. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Another notebook is in focus (its saved choice is shown once it is ready). */
  get notebookChanged(): ISignal<this, NotebookPanel | null> {
    return this._notebookChanged;
  }

  /** The kernel reported an error (a failed connect): notify the user. */
  get failed(): ISignal<this, string> {
    return this._failed;
  }

  get attached(): boolean {
    return this.comm !== null;
  }

  /** Send a message to the kernel's side; false when no Cygnet kernel is attached. */
  send(data: Record<string, unknown>): boolean {
    if (!this.comm) {
      return false;
    }
    this.comm.send(data as any);
    return true;
  }

  clearLogs(): void {
    this.logs = [];
    this._changed.emit();
  }

  dispose(): void {
    this.comm?.dispose();
    Signal.clearData(this);
  }

  private follow(notebook: NotebookPanel | null): void {
    if (this.notebook !== notebook) {
      this.notebook?.sessionContext.kernelChanged.disconnect(this.onKernelChanged, this);
      this.notebook = notebook;
      notebook?.sessionContext.kernelChanged.connect(this.onKernelChanged, this);
      this._notebookChanged.emit(notebook);
    }
    if (!notebook) {
      void this.attach(null);
      return;
    }
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
    this._changed.emit();
    if (!kernel) {
      return;
    }
    const unsupported = sparkUnsupported(await kernel.spec.catch(() => undefined));
    if (unsupported) {
      if (this.kernel === kernel) {
        this.state = { state: 'unsupported', error: unsupported };
        this._changed.emit();
      }
      return;
    }
    if (this.kernel !== kernel) {
      return; // another kernel came while the spec was read
    }
    kernel.statusChanged.connect(this.onKernelStatus, this);
    const comm = kernel.createComm(COMM_TARGET);
    comm.onMsg = msg => this.onMessage(msg);
    comm.onClose = () => {
      if (this.comm === comm) {
        this.comm = null;
        this.state = { state: 'error', error: NO_SUPPORT };
        this._changed.emit();
      }
    };
    this.comm = comm;
    comm.open({});
  }

  private onKernelStatus(kernel: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (kernel !== this.kernel) {
      kernel.statusChanged.disconnect(this.onKernelStatus, this);
    } else if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this.comm = null; // the kernel's side is gone; the next 'idle' kernel gets a new comm
      this.kernel = null;
      this.state = { state: 'disconnected' };
      this._changed.emit();
      if (status !== 'dead') {
        void this.notebook?.sessionContext.ready.then(() =>
          this.attach(this.notebook?.sessionContext.session?.kernel ?? null)
        );
      }
    }
  }

  private onMessage(msg: KernelMessage.ICommMsgMsg): void {
    const data = msg.content.data as any;
    if (data.action === 'state') {
      this.state = data.state;
    } else if (data.action === 'error') {
      const connected = data.state?.state === 'connected';
      this.state = { ...(data.state ?? {}), state: connected ? 'connected' : 'error', error: data.message };
      this._failed.emit(String(data.message));
    } else if (data.action === 'log') {
      this.logs.push(String(data.line));
    } else if (data.action === 'logs') {
      this.logs = (data.lines ?? []).map(String);
    }
    this._changed.emit();
  }
}

// The compute panel's link to kernels, one per engine (Spark, Dask): follows the notebook in
// focus, keeps the engine's comm (`cygnet.spark`, `cygnet.dask`: the same protocol shape) open
// to its kernel (a new one after a restart or a kernel change), and tells what the kernel says
// through Lumino signals. The panel only renders what this holds.
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { KernelState, sparkUnsupported } from './sparkModel';

/** What differs between engines: the comm's target, the engine's name, which kernels it serves. */
export interface Engine {
  name: string;
  target: string;
  /** Why a kernel (by its spec) cannot use the engine, or null. */
  unsupported: (spec: { language?: string; display_name?: string; metadata?: any } | undefined) => string | null;
}

export const SPARK: Engine = { name: 'Spark', target: 'cygnet.spark', unsupported: sparkUnsupported };

export class EngineConnector {
  /** The notebook in focus, its kernel, the Spark state the kernel last reported, and the log. */
  notebook: NotebookPanel | null = null;
  kernel: Kernel.IKernelConnection | null = null;
  state: KernelState | null = null;
  logs: string[] = [];
  private comm: Kernel.IComm | null = null;
  private readonly _changed = new Signal<this, void>(this);
  private readonly _notebookChanged = new Signal<this, NotebookPanel | null>(this);
  private readonly _failed = new Signal<this, string>(this);

  constructor(
    tracker: INotebookTracker,
    readonly engine: Engine = SPARK
  ) {
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
    const unsupported = this.engine.unsupported(await kernel.spec.catch(() => undefined));
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
    const comm = kernel.createComm(this.engine.target);
    comm.onMsg = msg => this.onMessage(msg);
    comm.onClose = () => {
      if (this.comm === comm) {
        this.comm = null;
        this.state = {
          state: 'error',
          error: `this kernel has no Cygnet ${this.engine.name} support: choose a kernel of a Cygnet view`
        };
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

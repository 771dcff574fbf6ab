// The status bar names the software view of the current notebook's kernel (release and platform),
// from the metadata Cygnet puts in each view's kernel spec.
import { INotebookTracker } from '@jupyterlab/notebook';
import { KernelSpec } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

export interface ViewInfo {
  view: string;
  release: string;
  platform: string;
  python_version?: string;
  kernel?: string; // a kernel the view ships (R, Octave, ROOT's C++); absent for its Python
  spark?: boolean;
}

/** The view of a kernel spec, or null for kernels that are not a Cygnet view's. */
export function viewOfSpec(spec: KernelSpec.ISpecModel | undefined): ViewInfo | null {
  const info = (spec?.metadata as any)?.cygnet;
  return info && typeof info.release === 'string' ? (info as ViewInfo) : null;
}

export class ViewStatus extends Widget {
  constructor(
    private readonly tracker: INotebookTracker,
    private readonly specs: KernelSpec.IManager
  ) {
    super();
    this.addClass('cygnet-view-status');
    tracker.currentChanged.connect(this.update, this);
    specs.specsChanged.connect(this.update, this);
    tracker.currentChanged.connect((_, panel) => panel?.sessionContext.kernelChanged.connect(this.update, this));
    this.update();
  }

  update(): void {
    const session = this.tracker.currentWidget?.sessionContext;
    const name = session?.session?.kernel?.name ?? session?.kernelPreference.name;
    const view = viewOfSpec(name ? this.specs.specs?.kernelspecs[name] : undefined);
    this.node.textContent = view ? `View: ${view.release} · ${view.platform}` : '';
    const spec = name ? this.specs.specs?.kernelspecs[name] : undefined;
    const what = view?.kernel ? `${spec?.display_name ?? view.kernel}` : `Python ${view?.python_version ?? '?'}`;
    this.node.title = view ? `This kernel runs in the software view ${view.view} (${what})` : '';
  }
}

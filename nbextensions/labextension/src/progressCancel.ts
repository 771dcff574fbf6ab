// A Cancel control on the Spark progress under running cells: Cygnet's own display for Spark
// Connect (`.cygnet-spark-progress`) and sparkmonitor's for classic sessions. It interrupts the
// kernel, which Cygnet's kernel side turns into cancelling that cell's Spark jobs (job group or
// Connect tag) while the session stays connected: the stop button's action, where the user looks.
import { NotebookPanel } from '@jupyterlab/notebook';

const BUTTON = 'cygnet-spark-cancel';

/** Whether a progress display shows work still running. */
export function stillRunning(display: Element): boolean {
  if (display.classList.contains('cygnet-spark-progress')) {
    return !(display.textContent ?? '').includes('finished');
  }
  const running = display.querySelector('.badgerunningcount')?.textContent?.trim();
  return !!running && running !== '0';
}

function addButtons(panel: NotebookPanel): void {
  const displays = panel.content.node.querySelectorAll('.cygnet-spark-progress, .sparkMonitorCellRoot');
  displays.forEach(display => {
    let button = display.querySelector<HTMLButtonElement>(`.${BUTTON}`);
    if (!button) {
      button = document.createElement('button');
      button.className = `${BUTTON} jp-mod-styled jp-mod-warn`;
      button.textContent = 'Cancel';
      button.title = "Cancel this cell's Spark jobs (the session stays connected)";
      button.addEventListener('click', event => {
        event.stopPropagation();
        void panel.sessionContext.session?.kernel?.interrupt();
      });
      display.appendChild(button);
    }
    button.hidden = !stillRunning(display);
  });
}

/** Watch a notebook's outputs for Spark progress displays and give each a Cancel control. */
export function watchSparkProgress(panel: NotebookPanel): void {
  let scheduled = false;
  const observer = new MutationObserver(() => {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(() => {
        scheduled = false;
        addButtons(panel);
      });
    }
  });
  observer.observe(panel.content.node, { childList: true, subtree: true, characterData: true });
  panel.disposed.connect(() => observer.disconnect());
}

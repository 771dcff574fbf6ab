// "Share Session…": share this running session with named hub users (JupyterHub shares), see
// who has it and revoke; and the status bar item that says a session is shared, or, to a
// colleague, whose session it is and whose identity its code runs with.
import { Clipboard, Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { el } from './dom';
import { notifyError, postJSON, reported, requestAPI } from './api';
import { describeSession, parseUserNames, SessionInfo } from './messages';

const POLL_MS = 60_000;

interface Grant {
  user: string;
  created: string;
}

/** The address colleagues open: this session's JupyterLab. */
function sessionURL(): string {
  return new URL('lab', new URL(PageConfig.getBaseUrl(), window.location.origin)).href;
}

/** Whose session this is; null when the server does not say (an older server, or it is away). */
export async function sessionInfo(): Promise<SessionInfo | null> {
  try {
    return await requestAPI<SessionInfo>('session');
  } catch {
    return null;
  }
}

class SessionShareBody extends Widget {
  private readonly names = el('input', {
    className: 'cygnet-session-share-users',
    placeholder: 'hub user names, separated by commas'
  });
  private readonly list = el('ul', { className: 'cygnet-session-share-list' });

  constructor(private readonly changed: () => void) {
    super();
    this.addClass('cygnet-session-share');
    this.node.append(
      el(
        'p',
        { className: 'cygnet-session-share-warning' },
        'The people you share this session with open it in their own browser and work in it with you. ',
        el('strong', {}, 'They see all your files and run code as you'),
        ' (your kernels, terminals and credentials: your Kerberos ticket, your Spark and Dask clusters). ' +
          'Share only with people you trust, and revoke when you are done. ' +
          'There is no read-only mode: JupyterLab’s collaboration cannot yet keep a co-editor from editing or running.'
      ),
      el('label', {}, 'Share with ', this.names),
      el(
        'p',
        { className: 'cygnet-session-share-link' },
        'They open ',
        el('code', {}, sessionURL()),
        ' ',
        el('button', {
          className: 'jp-mod-styled',
          textContent: 'Copy',
          onclick: () => Clipboard.copyToSystem(sessionURL())
        }),
        ' and confirm once that the hub may tell your session who they are.'
      ),
      el('h4', {}, 'Shared with'),
      this.list
    );
    void this.refresh();
  }

  getValue(): string[] {
    return parseUserNames(this.names.value);
  }

  async refresh(): Promise<void> {
    let grants: Grant[];
    try {
      grants = await requestAPI<Grant[]>('session/shares');
    } catch (error) {
      this.list.replaceChildren(el('li', {}, `Cannot list: ${(error as Error).message}`));
      return;
    }
    this.list.replaceChildren(
      ...(grants.length
        ? grants.map(g =>
            el(
              'li',
              { className: 'cygnet-session-share-row' },
              el('span', { className: 'cygnet-session-share-user' }, g.user),
              el('span', { className: 'cygnet-share-meta' }, ` since ${new Date(g.created).toLocaleString()} `),
              el('button', {
                className: 'jp-mod-styled jp-mod-warn cygnet-session-share-revoke',
                textContent: 'Revoke',
                onclick: async () => {
                  const done = await reported('Revoke', () =>
                    requestAPI(`session/shares/${encodeURIComponent(g.user)}`, { method: 'DELETE' })
                  );
                  if (done) {
                    Notification.success(`${g.user} can no longer open this session`, { autoClose: 4000 });
                  }
                  await this.refresh();
                  this.changed();
                }
              })
            )
          )
        : [el('li', { className: 'cygnet-session-share-none' }, 'nobody')])
    );
  }
}

/** The dialog: grant the names typed (after the warning), list and revoke. */
export async function showSessionShareDialog(changed: () => void): Promise<void> {
  const body = new SessionShareBody(changed);
  const answer = await showDialog({
    title: 'Share this session',
    body,
    focusNodeSelector: '.cygnet-session-share-users',
    buttons: [Dialog.cancelButton({ label: 'Close' }), Dialog.warnButton({ label: 'Share' })]
  });
  const users = body.getValue();
  if (!answer.button.accept || !users.length) {
    return;
  }
  try {
    await postJSON<Grant[]>('session/shares', { users });
    Notification.success(`This session is shared with ${users.join(', ')}`, { autoClose: 5000 });
  } catch (error) {
    notifyError('Share session', error);
  }
  changed();
}

/** "Shared with N" (a click opens the dialog) or, to a colleague, "alice's session · code runs as alice". */
export class SessionStatus extends Widget {
  private timer = 0;
  private info: SessionInfo | null = null;

  constructor() {
    super();
    this.addClass('cygnet-session-status');
    this.node.addEventListener('click', () => {
      if (this.info && this.info.owner === this.info.you) {
        void showSessionShareDialog(() => void this.refresh());
      }
    });
    this.setHidden(true);
    this.timer = window.setInterval(() => void this.refresh(), POLL_MS);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  async refresh(): Promise<void> {
    this.display(await sessionInfo());
  }

  display(info: SessionInfo | null): void {
    this.info = info;
    const text = info ? describeSession(info) : '';
    this.node.textContent = text;
    this.node.title =
      info && info.owner !== info.you
        ? `${info.owner} shared this session with you: its kernels and terminals run as ${info.owner}.`
        : 'People you shared this session with. Click to share or revoke.';
    this.setHidden(!text);
  }
}

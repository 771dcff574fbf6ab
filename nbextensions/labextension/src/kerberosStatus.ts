// The user's Kerberos ticket in the status bar: the principal and the time left, or "no ticket";
// a click opens the Authenticate dialog (the password goes to the server's XSRF-checked API and
// to kinit's stdin there, nowhere else), and a notification warns before a ticket that cannot
// be renewed expires.
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { notifyError, postJSON, requestAPI } from './api';
import { el } from './dom';
import { describeTicket, expiresSoon, Ticket, timeLeft } from './messages';

const POLL_MS = 60_000;

class AuthenticateBody extends Widget {
  readonly principal = el('input', {
    className: 'cygnet-kerberos-principal',
    placeholder: 'your user name, or user@REALM'
  });
  readonly password = el('input', { className: 'cygnet-kerberos-password', type: 'password' });
  constructor(principal: string) {
    super();
    this.principal.value = principal;
    this.node.append(el('label', {}, 'Principal ', this.principal), el('label', {}, 'Password ', this.password));
  }
  getValue() {
    return { principal: this.principal.value.trim(), password: this.password.value };
  }
}

/** Asks for the password and gets a ticket; the new ticket, or null when cancelled or refused. */
export async function authenticate(principal = ''): Promise<Ticket | null> {
  const body = new AuthenticateBody(principal);
  const answer = await showDialog({
    title: 'Kerberos: authenticate',
    body,
    focusNodeSelector: principal ? '.cygnet-kerberos-password' : '.cygnet-kerberos-principal',
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Authenticate' })]
  });
  if (!answer.button.accept) {
    return null;
  }
  const { principal: who, password } = body.getValue();
  try {
    const ticket = await postJSON<Ticket>('kerberos', who ? { principal: who, password } : { password });
    Notification.success(`Kerberos: authenticated as ${ticket.principal}`, { autoClose: 5000 });
    return ticket;
  } catch (error) {
    notifyError('Kerberos', error);
    return null;
  }
}

export class KerberosStatus extends Widget {
  private ticket: Ticket | null = null;
  private warnedFor: number | null = null; // the expiry already warned about
  private timer = 0;

  constructor() {
    super();
    this.addClass('cygnet-kerberos-status');
    this.node.addEventListener('click', () => void this.authenticate());
    void this.refresh();
    this.timer = window.setInterval(() => void this.refresh(), POLL_MS);
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  async authenticate(): Promise<void> {
    const ticket = await authenticate(this.ticket?.principal ?? '');
    if (ticket) {
      this.display(ticket);
    }
  }

  async refresh(): Promise<void> {
    try {
      this.display(await requestAPI<Ticket>('kerberos'));
    } catch {
      this.display(null); // the server is away: say nothing rather than something stale
    }
  }

  private display(ticket: Ticket | null): void {
    this.ticket = ticket;
    const now = Date.now() / 1000;
    this.setHidden(!ticket || ticket.available === false);
    if (!ticket) {
      return;
    }
    this.node.textContent = describeTicket(ticket, now);
    this.node.title = ticket.principal
      ? `Your Kerberos ticket (for EOS, Spark and the services around them). Click to authenticate again.`
      : 'No Kerberos ticket: EOS, Spark clusters and other services that need one will refuse. Click to authenticate.';
    if (expiresSoon(ticket, now) && this.warnedFor !== ticket.expires) {
      this.warnedFor = ticket.expires;
      Notification.warning(`Your Kerberos ticket expires in ${timeLeft((ticket.expires ?? now) - now)}`, {
        autoClose: false,
        actions: [{ label: 'Authenticate', callback: () => void this.authenticate() }]
      });
    }
  }
}

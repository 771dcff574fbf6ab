// A session that runs as a batch job (Slurm) ends at its time limit: a notification warns
// `warn_before` seconds ahead (Cygnet.session_end_warning), once per end time, so the user saves
// their work instead of losing the session mid-cell. Outside a job it asks once and stops. The
// hub's soft-quota warning for the user's groups (given at spawn) is shown once, at the start.
import { Notification } from '@jupyterlab/apputils';

import { requestAPI } from './api';
import { SessionLimit, sessionEndWarning } from './messages';

const POLL_MS = 60_000;

export function watchSessionEnd(): void {
  let warnedFor: number | null = null;
  let timer = 0;
  let quotaShown = false;
  const check = async () => {
    let limit: SessionLimit;
    try {
      limit = await requestAPI<SessionLimit>('session/limit');
    } catch {
      return; // the server is away: try again at the next poll
    }
    if (limit.usage_note && !quotaShown) {
      quotaShown = true;
      Notification.warning(limit.usage_note, { autoClose: false });
    }
    if (limit.scheduler === null) {
      window.clearInterval(timer); // not a batch job: nothing will end it on a clock
      return;
    }
    const warning = sessionEndWarning(limit, Date.now() / 1000);
    if (warning && warnedFor !== limit.ends) {
      warnedFor = limit.ends;
      Notification.warning(warning, { autoClose: false });
    }
  };
  timer = window.setInterval(() => void check(), POLL_MS);
  void check();
}

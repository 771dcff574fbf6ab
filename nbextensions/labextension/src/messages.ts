// Pure helpers for what users read: error messages, expiry times, sizes. No JupyterLab imports,
// so the unit tests run them in plain Node.

/** The server's own message from an error answer (Jupyter's {"message", "reason"} JSON). */
export function errorMessage(status: number, body: unknown, path = ''): string {
  if (body && typeof body === 'object') {
    const { message, reason } = body as { message?: string; reason?: string };
    if (message) {
      return message;
    }
    if (reason) {
      return `${reason} (HTTP ${status})`;
    }
  }
  if (typeof body === 'string' && body.trim() && !body.trim().startsWith('<')) {
    return body.trim().slice(0, 300);
  }
  const known: Record<number, string> = {
    403: 'not allowed (are you still logged in?)',
    404: `not found${path ? `: ${path}` : ''}`,
    503: 'the service behind this is unavailable'
  };
  return known[status] ?? `HTTP ${status}${path ? ` from ${path}` : ''}`;
}

const UNITS: Record<string, number> = { m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds in an expiry like '7d', '12h', '30m', '2w'; null for none (''); an Error if malformed. */
export function parseExpiry(text: string): number | null {
  const value = text.trim().toLowerCase();
  if (!value || value === 'never') {
    return null;
  }
  const match = /^(\d+)\s*([mhdw])$/.exec(value);
  if (!match || Number(match[1]) <= 0) {
    throw new Error(`expiry '${text}' is not like 30m, 12h, 7d or 2w`);
  }
  return Number(match[1]) * UNITS[match[2]];
}

/** 'expires in 3 days', 'expired', 'never expires' for an expiry in epoch seconds (the API's). */
export function describeExpiry(expires: number | null | undefined, now = Date.now()): string {
  if (expires === null || expires === undefined) {
    return 'never expires';
  }
  const seconds = expires - now / 1000;
  if (seconds <= 0) {
    return 'expired';
  }
  for (const [unit, size] of [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60]
  ] as [string, number][]) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `expires in ${n} ${unit}${n === 1 ? '' : 's'}`;
    }
  }
  return 'expires in under a minute';
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

export interface SyncJob {
  id: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'interrupted';
  progress: { files_done: number; files_total: number | null; bytes: number };
  summary: {
    copied: number;
    skipped: number;
    deleted: number;
    bytes: number;
    conflicts: { path: string; kept_as: string }[];
  } | null;
  error: string | null;
}

/** Whether a sync job is still to end (queued behind another sync, or running). */
export function syncIsLive(job: SyncJob): boolean {
  return job.state === 'queued' || job.state === 'running';
}

/** One line for a job: progress while it runs, the summary when done. */
export function describeJob(job: SyncJob): string {
  if (job.state === 'failed' || job.state === 'interrupted') {
    return `Sync ${job.state}: ${job.error}`;
  }
  if (job.state === 'queued') {
    return 'Sync queued: it starts when the work before it ends';
  }
  if (job.state === 'running' || !job.summary) {
    const { files_done, files_total, bytes } = job.progress;
    return `Syncing: ${files_done}/${files_total ?? '?'} files, ${formatBytes(bytes)}`;
  }
  const s = job.summary;
  const conflicts = s.conflicts.length
    ? `, ${s.conflicts.length} conflicts (kept as ${s.conflicts.map(c => c.kept_as).join(', ')})`
    : '';
  return `Synced: ${s.copied} copied, ${s.skipped} unchanged, ${s.deleted} deleted, ${formatBytes(s.bytes)}${conflicts}`;
}

/** The user's Kerberos ticket as GET /cygnet/api/kerberos gives it (times in epoch seconds). */
export interface Ticket {
  principal: string | null;
  expires: number | null;
  renew_until: number | null;
  available?: boolean;
}

/** Time left, as people say it: "9h 59m", "14m", "under a minute". */
export function timeLeft(seconds: number): string {
  if (seconds < 60) {
    return 'under a minute';
  }
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours ? `${hours}h ${minutes}m` : `${minutes}m`;
}

/** When this session's batch job ends (GET /cygnet/api/session/limit). */
export interface SessionLimit {
  scheduler: string | null;
  job: string | null;
  ends: number | null;
  warn_before: number;
  usage_note?: string | null;
}

/** The warning to show at `now` (epoch seconds) when the job's end is near; null: none yet. */
export function sessionEndWarning(limit: SessionLimit, now: number): string | null {
  if (limit.ends === null || limit.warn_before <= 0 || limit.ends - now > limit.warn_before) {
    return null;
  }
  const left = limit.ends - now;
  const when = left > 0 ? `in ${timeLeft(left)}` : 'now';
  return (
    `This session's ${limit.scheduler ?? 'batch'} job ${limit.job ?? ''} reaches its time limit ${when}: ` +
    'save your work; the session and its kernels stop then.'
  ).replace('  ', ' ');
}

/** The status bar's words for a ticket at `now` (epoch seconds). */
export function describeTicket(ticket: Ticket, now: number): string {
  if (!ticket.principal || ticket.expires === null || ticket.expires <= now) {
    return 'Kerberos: no ticket';
  }
  return `Kerberos: ${ticket.principal} · ${timeLeft(ticket.expires - now)} left`;
}

/** Whether to warn that the ticket is about to expire: less than `warnBefore` seconds left and
 * no renewal can extend it past that (the server renews renewable tickets on its own). */
export function expiresSoon(ticket: Ticket, now: number, warnBefore = 900): boolean {
  if (!ticket.principal || ticket.expires === null || ticket.expires <= now) {
    return false;
  }
  const renewable = ticket.renew_until !== null && ticket.renew_until > ticket.expires;
  return ticket.expires - now < warnBefore && !renewable;
}

// --- a file's history ---------------------------------------------------------------
export interface Version {
  source: 'checkpoint' | 'box';
  id: string;
  when: string;
  size?: number;
  where?: string;
}

/** A version as the API names it: checkpoint:<id> or box:<id>. */
export function versionRef(version: Version): string {
  return `${version.source}:${version.id}`;
}

/** One line of the list: when, and where the version is kept. */
export function describeVersion(version: Version): string {
  const when = new Date(version.when).toLocaleString();
  return version.source === 'checkpoint' ? `${when} · checkpoint` : `${when} · box (${version.where ?? ''})`;
}

/** Whose session this is (GET /cygnet/api/session): `shared_with` is null for a co-editor. */
export interface SessionInfo {
  owner: string;
  you: string;
  hub: boolean;
  shared_with: string[] | null;
}

/** The status bar's words for a session: empty when there is nothing to say. */
export function describeSession(info: SessionInfo): string {
  if (info.owner !== info.you) {
    return `${info.owner}'s session · code runs as ${info.owner}`;
  }
  const n = info.shared_with?.length ?? 0;
  return n ? `Shared with ${n}` : '';
}

/** User names typed into the Share session dialog: split on commas and white space, each once. */
export function parseUserNames(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(name => name.length > 0))];
}

/** How a folder's colleagues read in a list. */
export function describeMembers(members: Record<string, string>): string {
  const names = Object.keys(members).sort();
  if (!names.length) {
    return 'nobody yet';
  }
  return names.map(name => (members[name] === 'ro' ? `${name} (read-only)` : name)).join(', ');
}

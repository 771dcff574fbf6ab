// What the front end reads and sends for batch runs (/cygnet/api/runs): pure helpers, tested.

export interface Run {
  id: string;
  notebook: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | string;
  cells_done: number;
  cells_total: number;
  backend: string;
  output: string;
  html: string;
  error: string;
  created: number;
  schedule?: string;
  view?: string;
  parameters?: Record<string, unknown>;
}

export interface Notify {
  on: 'failed' | 'ended' | 'never';
  email?: string;
  webhook?: string;
}

export interface Schedule {
  id: string;
  notebook: string;
  cron: string;
  every: number;
  timezone: string;
  paused: boolean;
  next_slot: number | null;
  last_run: string;
  fired: number;
  skipped: number;
  webhook_secret?: string;
}

/** What the dialog's "When" and "Notify" parts hold, as typed. */
export interface WhenChoice {
  mode: 'now' | 'cron' | 'every';
  cron: string;
  every: string;
  timezone: string;
  notifyOn: 'failed' | 'ended' | 'never';
  email: string;
  webhook: string;
  checkNewViews?: boolean;
}

export interface RunForm {
  parameters: { name: string; default: string; type: string; help: string }[];
  views: string[];
  default_view: string;
  clusters: string[];
  backends: string[];
  default_backend: string;
}

export const FINAL_STATES = ['succeeded', 'failed', 'cancelled'];

/**
 * A parameter typed in the dialog, as the JSON value the run gets: numbers, true/false (or
 * Python's True/False), None/null, a quoted string as its text, lists and objects as JSON;
 * anything else as text.
 */
export function parseValue(text: string): unknown {
  const value = text.trim();
  if (/^(true|false)$/i.test(value)) {
    return value.toLowerCase() === 'true';
  }
  if (/^(none|null)$/i.test(value)) {
    return null;
  }
  if (value !== '' && !Number.isNaN(Number(value))) {
    return Number(value);
  }
  const quoted = value.match(/^(['"])(.*)\1$/s);
  if (quoted) {
    return quoted[2];
  }
  if (/^[[{]/.test(value)) {
    try {
      return JSON.parse(value);
    } catch {
      return value;
    }
  }
  return value;
}

/** The parameters to send: only those changed from the notebook's own defaults. */
export function changedParameters(form: RunForm, values: Record<string, string>): Record<string, unknown> {
  const changed: Record<string, unknown> = {};
  for (const p of form.parameters) {
    const text = values[p.name];
    if (text !== undefined && text.trim() !== p.default.trim()) {
      changed[p.name] = parseValue(text);
    }
  }
  return changed;
}

/** One line for a run in the Runs panel. */
export function describeRun(run: Run): string {
  const progress = run.cells_total ? ` ${run.cells_done}/${run.cells_total} cells` : '';
  const error = run.state === 'failed' && run.error ? `: ${run.error}` : '';
  return `${run.notebook} · ${run.state}${run.state === 'running' ? progress : ''} · ${run.backend}${error}`;
}

/** The runs that ended since the last look (for a notification each). */
export function newlyEnded(before: Map<string, string>, runs: Run[]): Run[] {
  return runs.filter(
    r => FINAL_STATES.includes(r.state) && before.has(r.id) && !FINAL_STATES.includes(before.get(r.id)!)
  );
}

/** The notify object to send, or undefined when nobody is to be told. */
export function notifyOf(choice: WhenChoice): Notify | undefined {
  const email = choice.email.trim();
  const webhook = choice.webhook.trim();
  if (choice.notifyOn === 'never' || (!email && !webhook)) {
    return undefined;
  }
  return { on: choice.notifyOn, ...(email ? { email } : {}), ...(webhook ? { webhook } : {}) };
}

/**
 * Where the dialog's answer goes: POST runs (now) or POST schedules (a cron expression in a time
 * zone, or an interval), with the same run fields and notify.
 */
export function submission(
  run: Record<string, unknown>,
  choice: WhenChoice
): { route: 'runs' | 'schedules'; body: Record<string, unknown> } {
  const notify = notifyOf(choice);
  const body: Record<string, unknown> = { ...run, ...(notify ? { notify } : {}) };
  if (choice.mode === 'now') {
    return { route: 'runs', body };
  }
  if (choice.checkNewViews) {
    body.check_new_views = true;
  }
  if (choice.mode === 'cron') {
    return { route: 'schedules', body: { ...body, cron: choice.cron.trim(), timezone: choice.timezone || 'UTC' } };
  }
  return { route: 'schedules', body: { ...body, every: choice.every.trim() } };
}

/** One line for a schedule in the Runs panel. */
export function describeSchedule(schedule: Schedule, now = Date.now()): string {
  const when = schedule.cron ? `${schedule.cron} (${schedule.timezone})` : `every ${humanSeconds(schedule.every)}`;
  let next = 'ended';
  if (schedule.paused) {
    next = 'paused';
  } else if (schedule.next_slot !== null) {
    const minutes = Math.max(0, Math.round((schedule.next_slot * 1000 - now) / 60000));
    next = minutes < 1 ? 'next run in under a minute' : `next run in ${minutes} min`;
  }
  return `${schedule.notebook} · ${when} · ${next} · ${schedule.fired} run${schedule.fired === 1 ? '' : 's'}`;
}

export function humanSeconds(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['min', 60]
  ] as [string, number][]) {
    if (seconds >= size && seconds % size === 0) {
      return `${seconds / size} ${unit}`;
    }
  }
  return `${seconds} s`;
}

/** Runs grouped for the panel: each schedule's runs under it, then one-off runs by notebook. */
export function groupRuns(runs: Run[]): { key: string; title: string; runs: Run[] }[] {
  const groups = new Map<string, { key: string; title: string; runs: Run[] }>();
  for (const run of runs) {
    const key = run.schedule ? `schedule:${run.schedule}` : `notebook:${run.notebook}`;
    const title = run.schedule ? `${run.notebook} (schedule ${run.schedule})` : run.notebook;
    if (!groups.has(key)) {
      groups.set(key, { key, title, runs: [] });
    }
    groups.get(key)!.runs.push(run);
  }
  return [...groups.values()];
}

/** One cell of a comparison of two runs (GET runs/compare). */
export interface CellComparison {
  cell: number;
  source: string;
  verdict: 'same' | 'close' | 'differs' | 'only-a' | 'only-b';
  detail: string;
}

export interface ComparedRun {
  id: string;
  notebook: string;
  output: string;
  view: string;
  parameters: Record<string, unknown>;
  state: string;
  duration_seconds: number | null;
}

export interface Comparison {
  a: ComparedRun;
  b: ComparedRun;
  cells: CellComparison[];
  verdict: 'same' | 'close' | 'differs';
  counts: Record<string, number>;
  diff_url: string | null;
}

/** Runs picked to compare: at most two, the earlier pick let go for a third. */
export function togglePick(picked: string[], id: string): string[] {
  if (picked.includes(id)) {
    return picked.filter(p => p !== id);
  }
  return [...picked, id].slice(-2);
}

/** What a comparison says, for its dialog: a headline, what differs beside the cells, and the cells that are not the same. */
export function describeComparison(c: Comparison): { headline: string; changes: string[]; cells: CellComparison[] } {
  const cells = c.cells.filter(cell => cell.verdict !== 'same');
  const differing = cells.filter(cell => cell.verdict !== 'close').length;
  const headline =
    c.verdict === 'same'
      ? `Same results in all ${c.cells.length} cells`
      : c.verdict === 'close'
        ? `Same results within the tolerance (${cells.length} of ${c.cells.length} cells close)`
        : `Results differ in ${differing} of ${c.cells.length} cells`;
  const changes: string[] = [];
  if (c.a.view !== c.b.view) {
    changes.push(`View: ${c.a.view} → ${c.b.view}`);
  }
  const names = [...new Set([...Object.keys(c.a.parameters), ...Object.keys(c.b.parameters)])].sort();
  for (const name of names) {
    const [x, y] = [JSON.stringify(c.a.parameters[name]), JSON.stringify(c.b.parameters[name])];
    if (x !== y) {
      changes.push(`Parameter ${name}: ${x ?? '(default)'} → ${y ?? '(default)'}`);
    }
  }
  const seconds = (d: number | null) => (d === null ? '?' : `${d.toFixed(1)} s`);
  changes.push(`Duration: ${seconds(c.a.duration_seconds)} → ${seconds(c.b.duration_seconds)}`);
  if (c.a.state !== c.b.state) {
    changes.push(`State: ${c.a.state} → ${c.b.state}`);
  }
  return { headline, changes, cells };
}

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

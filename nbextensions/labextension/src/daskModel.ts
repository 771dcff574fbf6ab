// The Dask half of the compute panel, kept apart from the DOM and the kernel so it can be
// unit-tested: what the kernel reports over the `cygnet.dask` comm (the shape of Spark's, with
// workers, threads, memory and the dashboard), and the checks of what the user typed.
import { Engine } from './engineConnector';
import { formatBytes } from './messages';
import { Cluster, KernelState, pythonOnly } from './sparkModel';

/** What the kernel reports (cygnet.dask.session.status()). */
export interface DaskState extends KernelState {
  kind?: string | null;
  workers?: number;
  threads?: number;
  memory?: number;
  requested?: number;
  adapt?: [number, number] | null;
  max_workers?: number;
  dashboard_url?: string | null;
}

/** Dask, as Spark, is for Python kernels: the same spec metadata tells. */
export const daskUnsupported = pythonOnly('Dask');

export const DASK: Engine = { name: 'Dask', target: 'cygnet.dask', unsupported: daskUnsupported };

/** Which engine a catalogue cluster serves (catalogues before Dask have no `engine`). */
export function engineOf(clusters: Cluster[], name: string): 'spark' | 'dask' {
  const cluster = clusters.find(c => c.name === name);
  return cluster?.engine === 'dask' || cluster?.kind?.startsWith('dask-') ? 'dask' : 'spark';
}

/** A number of workers typed by the user: a whole number from 0 up to `max` (0: no limit known). */
export function parseWorkers(text: string, max = 0, what = 'Workers'): number {
  const value = text.trim();
  if (!/^\d+$/.test(value)) {
    throw new Error(`${what}: a whole number of workers, not '${text}'`);
  }
  const workers = Number(value);
  if (max > 0 && workers > max) {
    throw new Error(`${what}: at most ${max} workers on this cluster`);
  }
  return workers;
}

/** The comm message that asks the kernel for a cluster: fixed workers, or adaptive bounds. */
export function daskConnectMessage(
  cluster: string,
  workers: string,
  adapt: { minimum: string; maximum: string } | null,
  options: Record<string, string>
): Record<string, unknown> {
  const message: Record<string, unknown> = { action: 'connect', cluster, options };
  if (adapt) {
    const low = parseWorkers(adapt.minimum, 0, 'Adapt minimum');
    const high = parseWorkers(adapt.maximum, 0, 'Adapt maximum');
    if (low > high) {
      throw new Error('Adapt: the minimum is more than the maximum');
    }
    message.adapt = [low, high];
  } else if (workers.trim()) {
    message.workers = parseWorkers(workers);
  }
  return message;
}

/** One line about a connected cluster: '2 workers · 4 threads · 7.5 GiB, adapting 1–4'. */
export function describeDask(state: DaskState | null): string {
  if (!state || state.state !== 'connected') {
    return '';
  }
  const workers = state.workers ?? 0;
  let text = `${workers} worker${workers === 1 ? '' : 's'} · ${state.threads ?? 0} threads · ${formatBytes(state.memory ?? 0)}`;
  if (state.adapt) {
    text += `, adapting ${state.adapt[0]}–${state.adapt[1]}`;
  } else if (state.requested !== undefined && state.requested !== workers) {
    text += ` (asked for ${state.requested})`;
  }
  return text;
}

/** What a notebook keeps in metadata.cygnet.dask (written at connect), and %dask connect reads back. */
export interface DaskChoice {
  cluster: string;
  workers?: number;
  adapt?: [number, number];
  options: Record<string, string>;
}

/** The saved Dask choice of a notebook, or null, tolerating hand-edited metadata. */
export function daskChoiceFromMetadata(metadata: unknown): DaskChoice | null {
  const dask = (metadata as any)?.cygnet?.dask;
  if (!dask || typeof dask !== 'object' || typeof dask.cluster !== 'string' || !dask.cluster) {
    return null;
  }
  const choice: DaskChoice = { cluster: dask.cluster, options: {} };
  if (Number.isInteger(dask.workers) && dask.workers >= 0) {
    choice.workers = dask.workers;
  }
  if (Array.isArray(dask.adapt) && dask.adapt.length === 2 && dask.adapt.every(Number.isInteger)) {
    choice.adapt = [dask.adapt[0], dask.adapt[1]];
  }
  if (dask.options && typeof dask.options === 'object' && !Array.isArray(dask.options)) {
    for (const [key, value] of Object.entries(dask.options)) {
      choice.options[key] = String(value);
    }
  }
  return choice;
}

/** The choice a connect message makes, as the notebook keeps it. */
export function daskChoiceOf(message: Record<string, unknown>): DaskChoice {
  const choice: DaskChoice = {
    cluster: String(message.cluster),
    options: (message.options as Record<string, string>) ?? {}
  };
  if (message.adapt) {
    choice.adapt = message.adapt as [number, number];
  } else if (message.workers !== undefined) {
    choice.workers = message.workers as number;
  }
  return choice;
}

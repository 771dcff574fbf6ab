// The Spark panel's state, kept apart from the DOM and the kernel so it can be unit-tested:
// what the user chose (cluster, bundles, options), what the kernel reports over the
// `cygnet.spark` comm, and how the choice is kept in the notebook's metadata.

export interface Cluster {
  name: string;
  display_name: string;
  kind: string;
  /** 'spark' or 'dask': which engine, and so which comm, serves the cluster. */
  engine?: string;
  max_workers?: number;
  /** The session's cluster (chosen in the hub's form): the panel starts on it. */
  default?: boolean;
}

export interface Bundle {
  name: string;
  display_name: string;
  description?: string;
  clusters: string[];
}

export interface KnownOption {
  name: string;
  category?: string;
  description?: string;
}

/** What the kernel reports (cygnet.spark.session.status()). */
export interface KernelState {
  // 'unsupported': a kernel that cannot use Spark (its `error` says why; nothing to retry)
  state: 'disconnected' | 'connecting' | 'connected' | 'error' | 'unsupported' | string;
  error?: string | null;
  cluster?: string | null;
  ui_url?: string | null;
  app_id?: string | null;
}

/** What a notebook keeps in metadata.cygnet.spark, and %spark connect reads back. */
export interface SparkChoice {
  cluster: string;
  bundles: string[];
  options: Record<string, string>;
}

export const EMPTY_CHOICE: SparkChoice = { cluster: 'local', bundles: [], options: {} };

/** A choice from notebook metadata, tolerating what older or hand-edited notebooks hold. */
export function choiceFromMetadata(metadata: unknown, defaultCluster = 'local'): SparkChoice {
  const spark = (metadata as any)?.cygnet?.spark;
  if (!spark || typeof spark !== 'object') {
    return { ...EMPTY_CHOICE, cluster: defaultCluster, options: {} };
  }
  const options: Record<string, string> = {};
  if (spark.options && typeof spark.options === 'object' && !Array.isArray(spark.options)) {
    for (const [key, value] of Object.entries(spark.options)) {
      options[key] = String(value);
    }
  }
  return {
    cluster: typeof spark.cluster === 'string' && spark.cluster ? spark.cluster : defaultCluster,
    bundles: Array.isArray(spark.bundles) ? spark.bundles.filter((b: unknown) => typeof b === 'string') : [],
    options
  };
}

/** Notebook metadata with the choice stored under cygnet.spark (other keys kept). */
export function metadataWithChoice(metadata: Record<string, any>, choice: SparkChoice): Record<string, any> {
  return { ...metadata, cygnet: { ...(metadata.cygnet ?? {}), spark: choice } };
}

/** 'key=value' lines (blank lines and # comments skipped) as options; an Error names a bad line. */
export function parseOptions(text: string): Record<string, string> {
  const options: Record<string, string> = {};
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) {
      return;
    }
    const at = line.indexOf('=');
    const key = at > 0 ? line.slice(0, at).trim() : '';
    if (!key || /\s/.test(key)) {
      throw new Error(`line ${index + 1}: '${line}' is not key=value`);
    }
    options[key] = line.slice(at + 1).trim();
  });
  return options;
}

export function formatOptions(options: Record<string, string>): string {
  return Object.entries(options)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
}

/** Bundles offered for a cluster: those with no cluster list, or that name it. */
export function bundlesFor(bundles: Bundle[], cluster: string): Bundle[] {
  return bundles.filter(b => !b.clusters?.length || b.clusters.includes(cluster));
}

/** Known options whose name contains what was typed (prefix matches first), at most `limit`. */
export function suggestOptions(known: KnownOption[], typed: string, limit = 12): KnownOption[] {
  const needle = typed.trim().toLowerCase();
  if (!needle) {
    return known.slice(0, limit);
  }
  const prefix = known.filter(o => o.name.toLowerCase().startsWith(needle));
  const inside = known.filter(o => !o.name.toLowerCase().startsWith(needle) && o.name.toLowerCase().includes(needle));
  return [...prefix, ...inside].slice(0, limit);
}

/** One line for the panel's status: 'Connected to local', 'Error: ...'. */
export function describeState(state: KernelState | null, kernelName: string | null, engine = 'Spark'): string {
  if (!kernelName) {
    return 'No kernel: open a notebook';
  }
  if (!state) {
    return 'Waiting for the kernel…';
  }
  switch (state.state) {
    case 'connected':
      return `Connected to ${state.cluster ?? engine}`;
    case 'connecting':
      return `Connecting to ${state.cluster ?? engine}…`;
    case 'error':
      return `Error: ${state.error ?? 'unknown error'}`;
    case 'unsupported':
      return state.error ?? `This kernel cannot use ${engine}`;
    default:
      return 'Disconnected';
  }
}

type KernelSpecLike = { language?: string; display_name?: string; metadata?: any } | undefined;

/**
 * Why a kernel cannot use an engine (Spark, Dask), from its spec's Cygnet metadata, or null when
 * it can (or when the spec says nothing: the kernel side then answers for itself). Both engines
 * are for Python kernels, and for others whose view's spec says they can use them.
 */
export function pythonOnly(engine: string): (spec: KernelSpecLike) => string | null {
  return spec => {
    const info = spec?.metadata?.cygnet;
    if (!info || info.spark !== false) {
      return null;
    }
    const language = spec?.language || 'this language';
    return `${engine} is for Python kernels: this ${language} kernel cannot use it. Switch the notebook to the Python kernel of ${info.view ?? 'its view'} to connect.`;
  };
}

export const sparkUnsupported = pythonOnly('Spark');

/** The comm message that asks the kernel to connect with a choice. */
export function connectMessage(choice: SparkChoice): Record<string, unknown> {
  return { action: 'connect', cluster: choice.cluster, bundles: choice.bundles, options: choice.options };
}

/** The cluster a notebook without a saved choice starts on: the session's, else local. */
export function defaultCluster(clusters: Cluster[]): string {
  return clusters.find(c => c.default)?.name ?? 'local';
}

import {
  daskChoiceFromMetadata,
  daskChoiceOf,
  daskConnectMessage,
  daskUnsupported,
  describeDask,
  engineOf,
  parseWorkers
} from '../src/daskModel';
import { openQuery } from '../src/links';
import { terminalViews } from '../src/views';
import {
  changedParameters,
  Comparison,
  describeComparison,
  describeRun,
  describeSchedule,
  groupRuns,
  newlyEnded,
  notifyOf,
  parseValue,
  Run,
  Schedule,
  submission,
  togglePick,
  WhenChoice
} from '../src/runs';
import {
  describeExpiry,
  describeJob,
  describeMembers,
  describeSession,
  describeTicket,
  sessionEndWarning,
  describeVersion,
  errorMessage,
  expiresSoon,
  formatBytes,
  parseExpiry,
  parseUserNames,
  SyncJob,
  syncIsLive,
  timeLeft,
  versionRef
} from '../src/messages';
import {
  bundlesFor,
  choiceFromMetadata,
  defaultCluster,
  connectMessage,
  describeState,
  sparkUnsupported,
  formatOptions,
  metadataWithChoice,
  parseOptions,
  suggestOptions
} from '../src/sparkModel';

describe('errorMessage', () => {
  it("shows the server's own message", () => {
    expect(errorMessage(400, { message: 'path "../x" must stay inside the workspace', reason: 'Bad Request' })).toBe(
      'path "../x" must stay inside the workspace'
    );
  });
  it('falls back to the reason, then to a known status', () => {
    expect(errorMessage(503, { reason: 'Service Unavailable' })).toBe('Service Unavailable (HTTP 503)');
    expect(errorMessage(404, null, 'shares/abc')).toBe('not found: shares/abc');
    expect(errorMessage(500, '<html>oops</html>')).toBe('HTTP 500');
  });
});

describe('expiry', () => {
  it('parses the units the share API takes', () => {
    expect(parseExpiry('')).toBeNull();
    expect(parseExpiry('never')).toBeNull();
    expect(parseExpiry('30m')).toBe(1800);
    expect(parseExpiry(' 7d ')).toBe(7 * 86400);
    expect(parseExpiry('2w')).toBe(14 * 86400);
  });
  it('refuses what it cannot read', () => {
    expect(() => parseExpiry('7 days')).toThrow(/not like 30m/);
    expect(() => parseExpiry('0d')).toThrow();
    expect(() => parseExpiry('-1h')).toThrow();
  });
  it('describes epoch-second expiries', () => {
    const now = 1_700_000_000_000;
    expect(describeExpiry(null, now)).toBe('never expires');
    expect(describeExpiry(now / 1000 + 3 * 86400 + 5, now)).toBe('expires in 3 days');
    expect(describeExpiry(now / 1000 + 3600, now)).toBe('expires in 1 hour');
    expect(describeExpiry(now / 1000 - 1, now)).toBe('expired');
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});

describe('describeJob', () => {
  const job: SyncJob = {
    id: 'x',
    state: 'running',
    progress: { files_done: 3, files_total: 10, bytes: 2048 },
    summary: null,
    error: null
  };
  it('shows progress, then the summary with conflicts, or the error', () => {
    expect(describeJob(job)).toBe('Syncing: 3/10 files, 2.0 KiB');
    expect(
      describeJob({
        ...job,
        state: 'done',
        summary: {
          copied: 2,
          skipped: 8,
          deleted: 1,
          bytes: 100,
          conflicts: [{ path: 'a.ipynb', kept_as: 'a.conflict.ipynb' }]
        }
      })
    ).toBe('Synced: 2 copied, 8 unchanged, 1 deleted, 100 B, 1 conflicts (kept as a.conflict.ipynb)');
    expect(describeJob({ ...job, state: 'failed', error: 'the box is unreachable' })).toBe(
      'Sync failed: the box is unreachable'
    );
  });
  it('keeps following a job the server answered while it was still queued', () => {
    const queued: SyncJob = { ...job, state: 'queued' };
    expect(syncIsLive(queued)).toBe(true);
    expect(describeJob(queued)).toBe('Sync queued: it starts when the work before it ends');
    expect(syncIsLive({ ...job, state: 'interrupted', error: 'the server restarted' })).toBe(false);
  });
});

describe('Spark choice in notebook metadata', () => {
  it('round-trips and keeps other metadata', () => {
    const choice = { cluster: 'standalone', bundles: ['nxcals'], options: { 'spark.executor.memory': '4g' } };
    const metadata = metadataWithChoice({ kernelspec: { name: 'k' }, cygnet: { other: 1 } }, choice);
    expect(metadata.kernelspec).toEqual({ name: 'k' });
    expect(metadata.cygnet.other).toBe(1);
    expect(choiceFromMetadata(metadata)).toEqual(choice);
  });
  it('tolerates missing or hand-edited metadata', () => {
    expect(choiceFromMetadata({})).toEqual({ cluster: 'local', bundles: [], options: {} });
    expect(choiceFromMetadata({}, 'analytix').cluster).toBe('analytix');
    expect(choiceFromMetadata({ cygnet: { spark: { cluster: 'k8s' } } }, 'analytix').cluster).toBe('k8s');
    expect(choiceFromMetadata({ cygnet: { spark: { cluster: 7, bundles: 'x', options: ['a'] } } })).toEqual({
      cluster: 'local',
      bundles: [],
      options: {}
    });
    expect(choiceFromMetadata({ cygnet: { spark: { options: { 'spark.cores.max': 4 } } } }).options).toEqual({
      'spark.cores.max': '4'
    });
  });
});

describe('options text', () => {
  it('parses key=value lines, skipping blanks and comments', () => {
    expect(parseOptions('spark.a=1\n\n# note\n spark.b = x=y \n')).toEqual({ 'spark.a': '1', 'spark.b': 'x=y' });
    expect(formatOptions({ 'spark.a': '1', 'spark.b': '2' })).toBe('spark.a=1\nspark.b=2');
  });
  it('names the bad line', () => {
    expect(() => parseOptions('spark.a=1\nnot an option')).toThrow(/line 2/);
    expect(() => parseOptions('=value')).toThrow(/line 1/);
  });
});

describe('catalogue helpers', () => {
  const bundles = [
    { name: 'any', display_name: 'Any', clusters: [] },
    { name: 'yarn-only', display_name: 'YARN', clusters: ['analytix'] }
  ];
  it('offers bundles for the chosen cluster', () => {
    expect(bundlesFor(bundles, 'local').map(b => b.name)).toEqual(['any']);
    expect(bundlesFor(bundles, 'analytix').map(b => b.name)).toEqual(['any', 'yarn-only']);
  });
  it('suggests options, prefix matches first', () => {
    const known = [
      { name: 'spark.driver.memory' },
      { name: 'spark.executor.memory' },
      { name: 'spark.memory.fraction' }
    ];
    expect(suggestOptions(known, 'spark.mem').map(o => o.name)).toEqual(['spark.memory.fraction']);
    expect(suggestOptions(known, 'memory').map(o => o.name)).toEqual([
      'spark.driver.memory',
      'spark.executor.memory',
      'spark.memory.fraction'
    ]);
    expect(suggestOptions(known, 'Executor.M').map(o => o.name)).toEqual(['spark.executor.memory']);
  });
});

describe('panel state', () => {
  it('describes each state', () => {
    expect(describeState(null, null)).toBe('No kernel: open a notebook');
    expect(describeState(null, 'k')).toBe('Waiting for the kernel…');
    expect(describeState({ state: 'unsupported', error: 'Spark is for Python kernels' }, 'k')).toBe(
      'Spark is for Python kernels'
    );
    expect(describeState({ state: 'connected', cluster: 'local' }, 'k')).toBe('Connected to local');
    expect(describeState({ state: 'error', error: 'no Java' }, 'k')).toBe('Error: no Java');
    expect(describeState({ state: 'disconnected' }, 'k')).toBe('Disconnected');
  });
  it('builds the comm message the kernel expects', () => {
    expect(connectMessage({ cluster: 'local', bundles: ['b'], options: { a: '1' } })).toEqual({
      action: 'connect',
      cluster: 'local',
      bundles: ['b'],
      options: { a: '1' }
    });
  });
});

describe('openQuery', () => {
  it('builds the /cygnet/open query', () => {
    expect(openQuery(' https://github.com/o/r ', 'main', '/nb/a.ipynb')).toBe(
      'repo=https%3A%2F%2Fgithub.com%2Fo%2Fr&branch=main&path=nb%2Fa.ipynb'
    );
    expect(openQuery('git://127.0.0.1:9418/r.git', '', '')).toBe('repo=git%3A%2F%2F127.0.0.1%3A9418%2Fr.git');
  });
  it('refuses what is not a URL', () => {
    expect(() => openQuery('not a url', '', '')).toThrow(/not a repository URL/);
    expect(openQuery('https://github.com/o/r', '', '', true)).toBe('repo=https%3A%2F%2Fgithub.com%2Fo%2Fr&env=1');
    expect(() => openQuery('', '', '')).toThrow();
  });
});

describe('defaultCluster', () => {
  it('is the session cluster the server marks, else local', () => {
    const local = { name: 'local', display_name: 'Local', kind: 'local' };
    expect(defaultCluster([local])).toBe('local');
    expect(defaultCluster([local, { name: 'yarn', display_name: 'YARN', kind: 'yarn', default: true }])).toBe('yarn');
  });
});

describe('Kerberos ticket', () => {
  const now = 1_800_000_000;
  it('says what the status bar shows', () => {
    expect(describeTicket({ principal: null, expires: null, renew_until: null }, now)).toBe('Kerberos: no ticket');
    const ticket = { principal: 'alice@CYGNET.TEST', expires: now + 3600 * 9 + 59 * 60 + 30, renew_until: null };
    expect(describeTicket(ticket, now)).toBe('Kerberos: alice@CYGNET.TEST · 9h 59m left');
    expect(describeTicket({ ...ticket, expires: now - 1 }, now)).toBe('Kerberos: no ticket');
    expect(timeLeft(14 * 60 + 5)).toBe('14m');
    expect(timeLeft(30)).toBe('under a minute');
  });
  it('warns only before a ticket that no renewal will extend', () => {
    const soon = { principal: 'alice@CYGNET.TEST', expires: now + 600, renew_until: null };
    expect(expiresSoon(soon, now)).toBe(true);
    expect(expiresSoon({ ...soon, renew_until: now + 86400 }, now)).toBe(false);
    expect(expiresSoon({ ...soon, expires: now + 7200 }, now)).toBe(false);
    expect(expiresSoon({ ...soon, principal: null }, now)).toBe(false);
  });
});

describe('sparkUnsupported', () => {
  it('lets Python kernels and kernels without Cygnet metadata through', () => {
    expect(sparkUnsupported(undefined)).toBeNull();
    expect(sparkUnsupported({ language: 'python', metadata: { cygnet: { view: 'v/p', spark: true } } })).toBeNull();
    expect(sparkUnsupported({ language: 'R', metadata: {} })).toBeNull();
  });
  it('says Spark is for Python kernels for a view kernel that cannot use it', () => {
    const reason = sparkUnsupported({ language: 'R', metadata: { cygnet: { view: 'LCG_106/x86_64', spark: false } } });
    expect(reason).toContain('Spark is for Python kernels');
    expect(reason).toContain('R kernel');
    expect(reason).toContain('LCG_106/x86_64');
  });
});

describe('terminalViews', () => {
  it('offers usable views, the site stacks before custom environments', () => {
    const views = [
      { name: 'env-1/p', usable: true, base: 'LCG/p' },
      { name: 'LCG/p', usable: true, base: '' },
      { name: 'broken/p', usable: false }
    ];
    expect(terminalViews(views)).toEqual(['LCG/p', 'env-1/p']);
  });
});

describe('batch runs', () => {
  it('types what is written in the dialog', () => {
    expect(parseValue('2024')).toBe(2024);
    expect(parseValue(' 0.5 ')).toBe(0.5);
    expect(parseValue('True')).toBe(true);
    expect(parseValue('None')).toBeNull();
    expect(parseValue("'muons'")).toBe('muons');
    expect(parseValue('[1, 2]')).toEqual([1, 2]);
    expect(parseValue('[not json')).toBe('[not json');
    expect(parseValue('muons')).toBe('muons');
  });
  it('sends only the parameters changed from the defaults', () => {
    const form = {
      parameters: [
        { name: 'year', default: '2020', type: 'int', help: '' },
        { name: 'scale', default: '1.0', type: 'float', help: '' }
      ],
      views: [],
      default_view: '',
      clusters: [],
      backends: [],
      default_backend: 'local'
    };
    expect(changedParameters(form, { year: '2024', scale: '1.0' })).toEqual({ year: 2024 });
  });
  it('tells runs apart and sees which ended', () => {
    const run = (id: string, state: string): Run => ({
      id,
      notebook: 'fit.ipynb',
      state,
      cells_done: 2,
      cells_total: 4,
      backend: 'slurm',
      output: 'o',
      html: 'h',
      error: '',
      created: 0
    });
    expect(describeRun(run('a', 'running'))).toBe('fit.ipynb · running 2/4 cells · slurm');
    const before = new Map([
      ['a', 'running'],
      ['b', 'succeeded']
    ]);
    expect(
      newlyEnded(before, [run('a', 'failed'), run('b', 'succeeded'), run('c', 'succeeded')]).map(r => r.id)
    ).toEqual(['a']);
  });
});

describe('schedules and notifications', () => {
  const choice = (over: Partial<WhenChoice>): WhenChoice => ({
    mode: 'now',
    cron: '0 6 * * *',
    every: '1d',
    timezone: 'Europe/Zurich',
    notifyOn: 'failed',
    email: '',
    webhook: '',
    ...over
  });
  const run = { notebook: 'fit.ipynb', parameters: {}, view: '', cluster: '', backend: '' };
  it('sends now to runs and a schedule to schedules, with notify only when someone is told', () => {
    expect(submission(run, choice({}))).toEqual({ route: 'runs', body: run });
    expect(submission(run, choice({ mode: 'cron', email: ' a@example.org ' }))).toEqual({
      route: 'schedules',
      body: { ...run, cron: '0 6 * * *', timezone: 'Europe/Zurich', notify: { on: 'failed', email: 'a@example.org' } }
    });
    expect(submission(run, choice({ mode: 'every', every: ' 2h ', timezone: '' })).body).toEqual({
      ...run,
      every: '2h'
    });
    expect(submission(run, choice({ mode: 'cron', checkNewViews: true })).body.check_new_views).toBe(true);
    expect(submission(run, choice({ checkNewViews: true })).body).toEqual(run);
    expect(notifyOf(choice({ notifyOn: 'never', email: 'a@example.org' }))).toBeUndefined();
    expect(notifyOf(choice({ notifyOn: 'ended', webhook: 'https://h.example.org/x' }))).toEqual({
      on: 'ended',
      webhook: 'https://h.example.org/x'
    });
  });
  it('describes a schedule and groups runs by schedule and notebook', () => {
    const schedule: Schedule = {
      id: 'abc',
      notebook: 'fit.ipynb',
      cron: '',
      every: 3600,
      timezone: 'UTC',
      paused: false,
      next_slot: 600,
      last_run: '',
      fired: 1,
      skipped: 0
    };
    expect(describeSchedule(schedule, 0)).toBe('fit.ipynb · every 1 h · next run in 10 min · 1 run');
    expect(describeSchedule({ ...schedule, paused: true, cron: '0 6 * * *' }, 0)).toBe(
      'fit.ipynb · 0 6 * * * (UTC) · paused · 1 run'
    );
    const r = (id: string, notebook: string, schedule?: string): Run => ({
      id,
      notebook,
      state: 'succeeded',
      cells_done: 1,
      cells_total: 1,
      backend: 'local',
      output: 'o',
      html: 'h',
      error: '',
      created: 0,
      schedule
    });
    const groups = groupRuns([
      r('1', 'fit.ipynb', 's1'),
      r('2', 'fit.ipynb'),
      r('3', 'fit.ipynb', 's1'),
      r('4', 'b.ipynb')
    ]);
    expect(groups.map(g => [g.title, g.runs.map(x => x.id)])).toEqual([
      ['fit.ipynb (schedule s1)', ['1', '3']],
      ['fit.ipynb', ['2']],
      ['b.ipynb', ['4']]
    ]);
  });
});

describe('the Dask half of the compute panel', () => {
  const clusters = [
    { name: 'local', display_name: 'Local', kind: 'local', engine: 'spark' },
    { name: 'dask-local', display_name: 'Dask', kind: 'dask-local', engine: 'dask' },
    { name: 'old-gw', display_name: 'GW', kind: 'dask-gateway' }
  ];

  it('tells the engine of a cluster, catalogues before Dask included', () => {
    expect(engineOf(clusters, 'local')).toBe('spark');
    expect(engineOf(clusters, 'dask-local')).toBe('dask');
    expect(engineOf(clusters, 'old-gw')).toBe('dask');
    expect(engineOf(clusters, 'unknown')).toBe('spark');
  });

  it('checks workers and adaptive bounds before asking the kernel', () => {
    expect(daskConnectMessage('dask-local', '2', null, {})).toEqual({
      action: 'connect',
      cluster: 'dask-local',
      options: {},
      workers: 2
    });
    expect(daskConnectMessage('gw', '', { minimum: '1', maximum: '4' }, { worker_cores: '2' })).toEqual({
      action: 'connect',
      cluster: 'gw',
      options: { worker_cores: '2' },
      adapt: [1, 4]
    });
    expect(daskConnectMessage('dask-local', '', null, {})).not.toHaveProperty('workers');
    expect(() => daskConnectMessage('d', 'two', null, {})).toThrow("Workers: a whole number of workers, not 'two'");
    expect(() => daskConnectMessage('d', '', { minimum: '4', maximum: '1' }, {})).toThrow('minimum is more');
    expect(() => parseWorkers('10000', 8)).toThrow('at most 8 workers');
  });

  it('describes a connected cluster in one line', () => {
    expect(describeDask({ state: 'connected', workers: 2, threads: 4, memory: 8 * 2 ** 30, requested: 2 })).toBe(
      '2 workers · 4 threads · 8.0 GiB'
    );
    expect(describeDask({ state: 'connected', workers: 1, threads: 1, memory: 0, adapt: [1, 3] })).toBe(
      '1 worker · 1 threads · 0 B, adapting 1–3'
    );
    expect(describeDask({ state: 'disconnected' })).toBe('');
    expect(describeState({ state: 'connecting', cluster: null }, 'k', 'Dask')).toBe('Connecting to Dask…');
  });

  it('is for Python kernels, as Spark is', () => {
    const r = { language: 'R', metadata: { cygnet: { spark: false, view: 'LCG_1/x' } } };
    expect(daskUnsupported(r)).toContain('Dask is for Python kernels');
    expect(daskUnsupported({ language: 'python', metadata: {} })).toBeNull();
  });
});

describe("a notebook's saved Dask choice", () => {
  it('round-trips what a connect asked for, and tolerates hand edits', () => {
    const message = daskConnectMessage('gw', '', { minimum: '1', maximum: '3' }, { worker_cores: '2' });
    const choice = daskChoiceOf(message);
    expect(choice).toEqual({ cluster: 'gw', adapt: [1, 3], options: { worker_cores: '2' } });
    expect(daskChoiceFromMetadata({ cygnet: { dask: choice } })).toEqual(choice);
    expect(
      daskChoiceFromMetadata({ cygnet: { dask: { cluster: 'd', workers: -1, adapt: 'x', options: [1] } } })
    ).toEqual({
      cluster: 'd',
      options: {}
    });
    expect(daskChoiceFromMetadata({ cygnet: { spark: {} } })).toBeNull();
  });
});

describe('comparing runs', () => {
  it('picks at most two runs, letting the earlier go', () => {
    expect(togglePick([], 'a')).toEqual(['a']);
    expect(togglePick(['a', 'b'], 'c')).toEqual(['b', 'c']);
    expect(togglePick(['a', 'b'], 'a')).toEqual(['b']);
  });
  it('says what changed beside the cells, and which cells are not the same', () => {
    const side = {
      id: 'x',
      notebook: 'fit.ipynb',
      output: 'fit-run-1.ipynb',
      view: 'LCG_106/x',
      parameters: { year: 2024 },
      state: 'succeeded',
      duration_seconds: 2
    };
    const comparison: Comparison = {
      a: side,
      b: { ...side, id: 'y', view: 'LCG_107/x', parameters: { year: 2024, scale: 2 }, duration_seconds: 3.25 },
      cells: [
        { cell: 0, source: 'x = 1', verdict: 'same', detail: '' },
        { cell: 1, source: 'fit()', verdict: 'differs', detail: 'line 1' },
        { cell: 2, source: 'print(e)', verdict: 'close', detail: 'numbers within the tolerance' }
      ],
      verdict: 'differs',
      counts: { same: 1, differs: 1, close: 1 },
      diff_url: '/nbdime/difftool?base=a&remote=b'
    };
    const shown = describeComparison(comparison);
    expect(shown.headline).toBe('Results differ in 1 of 3 cells');
    expect(shown.changes).toEqual([
      'View: LCG_106/x → LCG_107/x',
      'Parameter scale: (default) → 2',
      'Duration: 2.0 s → 3.3 s'
    ]);
    expect(shown.cells.map(c => c.cell)).toEqual([1, 2]);
    expect(describeComparison({ ...comparison, verdict: 'close', cells: comparison.cells.slice(2) }).headline).toBe(
      'Same results within the tolerance (1 of 1 cells close)'
    );
  });
});

describe('history', () => {
  it('names a version as the API does and says where it is kept', () => {
    const box = {
      source: 'box' as const,
      id: 'runs/20261203T101500.000001Z.ipynb',
      when: '2026-12-03T10:15:00+00:00',
      where: '/box'
    };
    expect(versionRef(box)).toBe('box:runs/20261203T101500.000001Z.ipynb');
    expect(describeVersion(box)).toMatch(/· box \(\/box\)$/);
    const checkpoint = { source: 'checkpoint' as const, id: 'checkpoint', when: '2026-12-03T10:16:00+00:00' };
    expect(versionRef(checkpoint)).toBe('checkpoint:checkpoint');
    expect(describeVersion(checkpoint)).toMatch(/· checkpoint$/);
  });
});

describe('session sharing', () => {
  it('says who a shared session belongs to and whose identity its code runs with', () => {
    const mine = { owner: 'alice', you: 'alice', hub: true, shared_with: ['bob', 'carol'] };
    expect(describeSession(mine)).toBe('Shared with 2');
    expect(describeSession({ ...mine, shared_with: [] })).toBe('');
    expect(describeSession({ ...mine, you: 'bob', shared_with: null })).toBe("alice's session · code runs as alice");
  });
  it('reads the names typed into the dialog', () => {
    expect(parseUserNames(' bob, carol  bob\n')).toEqual(['bob', 'carol']);
    expect(parseUserNames(' , ')).toEqual([]);
  });
});

describe('live shared folders', () => {
  it('names who is in a folder, and who may only read', () => {
    expect(describeMembers({})).toBe('nobody yet');
    expect(describeMembers({ carol: 'ro', bob: 'rw' })).toBe('bob, carol (read-only)');
  });
});

describe('the session end warning', () => {
  const now = 1_800_000_000;
  const limit = { scheduler: 'slurm', job: '42', ends: now + 540, warn_before: 600 };
  it('warns within the window, with the time left', () => {
    expect(sessionEndWarning(limit, now)).toBe(
      "This session's slurm job 42 reaches its time limit in 9m: save your work; the session and its kernels stop then."
    );
  });
  it('says nothing before the window, without an end, or when turned off', () => {
    expect(sessionEndWarning({ ...limit, ends: now + 601 }, now)).toBeNull();
    expect(sessionEndWarning({ ...limit, ends: null }, now)).toBeNull();
    expect(sessionEndWarning({ ...limit, warn_before: 0 }, now)).toBeNull();
  });
});

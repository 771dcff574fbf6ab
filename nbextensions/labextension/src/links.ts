// Pure helpers for open-links (no JupyterLab imports: unit-tested in plain Node).

/** The /cygnet/open query for a repository. The server checks the URL against the site's
 *  policy; this only catches what is plainly not a URL before leaving the page. */
export function openQuery(repo: string, branch: string, path: string, env = false): string {
  const url = repo.trim();
  if (!/^[a-z+]+:\/\/[^\s/]+\/\S*$/i.test(url) && !/^[\w.-]+@[\w.-]+:\S+$/.test(url)) {
    throw new Error(`'${repo}' is not a repository URL (like https://host/owner/repo)`);
  }
  const params = new URLSearchParams({ repo: url });
  if (branch.trim()) {
    params.set('branch', branch.trim());
  }
  if (path.trim()) {
    params.set('path', path.trim().replace(/^\/+/, ''));
  }
  if (env) {
    params.set('env', '1'); // build (or reuse) the repository's environment and open on its kernel
  }
  return params.toString();
}

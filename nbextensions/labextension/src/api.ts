// Calls to Cygnet's REST API under /cygnet/api/, with Jupyter's login and XSRF token.
import { Notification } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { errorMessage } from './messages';

export function requestAPI<T>(path: string, init: RequestInit = {}): Promise<T> {
  return requestServer<T>(URLExt.join('cygnet', 'api', path), init);
}

/** A request to any path under the server's base URL (Jupyter's own API too), its JSON answer,
 * or an Error carrying the server's message. */
export async function requestServer<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new Error(`the Jupyter server did not answer: ${error}`);
  }
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!response.ok) {
    throw new Error(errorMessage(response.status, body, path));
  }
  return body as T;
}

export function postJSON<T>(path: string, data: unknown): Promise<T> {
  return requestAPI<T>(path, { method: 'POST', body: JSON.stringify(data) });
}

/** The one way a failure reaches the user: a notification naming what failed, with the
 * server's message. */
export function notifyError(what: string, error: unknown): void {
  Notification.error(`${what}: ${(error as Error)?.message ?? String(error)}`, { autoClose: 10000 });
}

/** Runs `step`; a failure becomes a notification with the server's message, never a silence. */
export async function reported<T>(what: string, step: () => Promise<T>): Promise<T | undefined> {
  try {
    return await step();
  } catch (error) {
    notifyError(what, error);
    return undefined;
  }
}

/** A full URL to a path under the server's base URL (share pages, /cygnet/open). */
export function serverURL(...parts: string[]): string {
  const settings = ServerConnection.makeSettings();
  return URLExt.join(settings.baseUrl, ...parts);
}

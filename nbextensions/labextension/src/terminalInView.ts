// "New Terminal in View…": a terminal in another software view than the default one (Cygnet's
// terminals run in a view; Jupyter's terminals API takes the view in the creation request).
import { JupyterFrontEnd } from '@jupyterlab/application';
import { InputDialog, Notification } from '@jupyterlab/apputils';

import { reported, requestAPI, requestServer } from './api';
import { ViewListing, terminalViews } from './views';

export async function terminalInView(commands: JupyterFrontEnd['commands']): Promise<void> {
  const views = await reported('New terminal in view', () => requestAPI<ViewListing[]>('views'));
  if (!views) {
    return;
  }
  const names = terminalViews(views);
  if (!names.length) {
    Notification.warning('There is no usable software view here', { autoClose: 8000 });
    return;
  }
  const choice = await InputDialog.getItem({ title: 'New terminal in view', items: names });
  if (!choice.button.accept || !choice.value) {
    return;
  }
  const view = choice.value;
  const model = await reported('New terminal in view', () =>
    requestServer<{ name: string }>('api/terminals', { method: 'POST', body: JSON.stringify({ view }) })
  );
  if (model) {
    await commands.execute('terminal:open', { name: model.name });
  }
}

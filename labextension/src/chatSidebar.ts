/**
 * "Open Agent Chat in Sidebar": a second live view of a cell's output in the right sidebar.
 *
 * Like JupyterLab's "Create New View for Cell Output", the view shares the cell's output model
 * and renders it with the notebook's rendermime registry, so widget outputs (an agent's chat
 * panel) get real views bound to the running kernel and streamed replies appear in both places.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { SimplifiedOutputArea } from '@jupyterlab/outputarea';
import { closeIcon, LabIcon } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

export const OPEN_CHAT_COMMAND = 'lagent-nb:open-chat-in-sidebar';

const chatIcon = new LabIcon({
  name: 'lagent-nb:chat',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">' +
    '<path class="jp-icon3" fill="#616161" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 ' +
    '2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h2V9H7zm4 0v2h2V9h-2zm4 0v2h2V9h-2z"/></svg>'
});

/** The header: which notebook the chat belongs to, and a way to close the view. */
function header(label: string, onClose: () => void): Widget {
  const node = document.createElement('div');
  node.className = 'lagent-nb-ChatView-header';
  const title = document.createElement('span');
  title.className = 'lagent-nb-ChatView-label';
  title.textContent = label;
  const close = document.createElement('button');
  close.className = 'lagent-nb-ChatView-close jp-Button jp-mod-minimal';
  close.title = 'Close this view (the cell keeps its output)';
  close.appendChild(closeIcon.element({ tag: 'span' }));
  close.addEventListener('click', onClose);
  node.append(title, close);
  return new Widget({ node });
}

/** The sidebar view of one cell's output; it goes away with the cell or the notebook. */
class AgentChatView extends Panel {
  constructor(notebook: NotebookPanel, cell: CodeCell) {
    super();
    this.id = `lagent-nb-chat-${cell.model.id}`;
    this.addClass('lagent-nb-ChatView');
    this.title.icon = chatIcon;
    this.title.caption = `Agent chat (${notebook.title.label})`;
    this.addWidget(header(notebook.title.label, () => this.dispose()));
    const output = new SimplifiedOutputArea({
      model: cell.model.outputs,
      rendermime: notebook.content.rendermime,
      contentFactory: cell.outputArea.contentFactory
    });
    output.addClass('lagent-nb-ChatView-output');
    this.addWidget(output);
    cell.disposed.connect(this._onSourceDisposed, this);
    notebook.disposed.connect(this._onSourceDisposed, this);
  }

  private _onSourceDisposed(): void {
    this.dispose();
  }
}

export const chatSidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'lagent-nb:chat-sidebar',
  description: 'Docks the selected cell output (an agent chat) in the right sidebar.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker, palette: ICommandPalette | null) => {
    const views = new Map<string, AgentChatView>();
    const selectedCodeCell = (): CodeCell | null => {
      const cell = tracker.activeCell;
      return cell instanceof CodeCell ? cell : null;
    };

    app.commands.addCommand(OPEN_CHAT_COMMAND, {
      label: 'Open Agent Chat in Sidebar',
      caption: "Show the selected cell's output (an agent chat) in the right sidebar",
      icon: chatIcon,
      isEnabled: () => selectedCodeCell() !== null && tracker.currentWidget !== null,
      execute: () => {
        const notebook = tracker.currentWidget;
        const cell = selectedCodeCell();
        if (!notebook || !cell) {
          return;
        }
        let view = views.get(cell.model.id);
        if (!view || view.isDisposed) {
          const created = new AgentChatView(notebook, cell);
          created.disposed.connect(() => views.delete(cell.model.id));
          views.set(cell.model.id, created);
          app.shell.add(created, 'right', { rank: 900 });
          view = created;
        }
        app.shell.activateById(view.id);
      }
    });

    palette?.addItem({ command: OPEN_CHAT_COMMAND, category: 'Notebook Operations' });
    app.contextMenu.addItem({
      command: OPEN_CHAT_COMMAND,
      selector: '.jp-Notebook .jp-CodeCell',
      rank: 14
    });
  }
};

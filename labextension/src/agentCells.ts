/**
 * Markdown highlighting for `%%agent` cells.
 *
 * The body of an `%%agent` cell is a prompt, not Python, so its editor gets the Markdown
 * language. The override lives on the cell model's mime type, which every editor view of the
 * cell follows. The notebook resets code cells to the kernel's mime type when a cell is inserted
 * or the kernel language changes, so the override is re-applied whenever the mime type or the
 * source changes.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IObservableList } from '@jupyterlab/observables';

export const AGENT_MAGIC = '%%agent';
export const PROMPT_MIME = 'text/x-markdown';

/** Whether a cell's source starts with the agent cell magic (`%%agent` or `%%agent name`). */
export function isAgentSource(source: string): boolean {
  return source.startsWith(AGENT_MAGIC) && /^\s?$/.test(source.charAt(AGENT_MAGIC.length));
}

/** Keeps a notebook's code cells on the right mime type for as long as the notebook lives. */
function highlightAgentCells(panel: NotebookPanel): void {
  const cells = panel.content.model?.cells;
  if (!cells) {
    return;
  }
  const apply = (cell: ICodeCellModel) => {
    if (cell.isDisposed || panel.isDisposed) {
      return;
    }
    const wanted = isAgentSource(cell.sharedModel.getSource())
      ? PROMPT_MIME
      : panel.content.codeMimetype;
    if (cell.mimeType !== wanted) {
      cell.mimeType = wanted;
    }
  };
  const watch = (cell: ICellModel) => {
    if (cell.type !== 'code') {
      return;
    }
    const code = cell as ICodeCellModel;
    code.mimeTypeChanged.connect(() => apply(code));
    code.sharedModel.changed.connect((_, change) => {
      if (change.sourceChange) {
        apply(code);
      }
    });
    apply(code);
  };
  for (const cell of cells) {
    watch(cell);
  }
  cells.changed.connect((_, change: IObservableList.IChangedArgs<ICellModel>) => {
    if (change.type === 'add' || change.type === 'set') {
      change.newValues.forEach(watch);
    }
  });
}

export const agentCellsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'lagent-nb:agent-cells',
  description: 'Highlights the prompt of %%agent cells as Markdown.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    tracker.widgetAdded.connect((_, panel) => highlightAgentCells(panel));
  }
};

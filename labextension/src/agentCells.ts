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

/** Keeps one notebook's code cells on the right mime type for as long as the panel lives. */
class AgentCellHighlighter {
  constructor(private readonly _panel: NotebookPanel) {
    const cells = _panel.content.model?.cells;
    if (!cells) {
      return;
    }
    for (const cell of cells) {
      this._watch(cell);
    }
    cells.changed.connect(this._onCellsChanged, this);
  }

  private _onCellsChanged(_: unknown, change: IObservableList.IChangedArgs<ICellModel>): void {
    if (change.type === 'add' || change.type === 'set') {
      change.newValues.forEach(cell => this._watch(cell));
    }
  }

  private _watch(cell: ICellModel): void {
    if (cell.type !== 'code') {
      return;
    }
    const code = cell as ICodeCellModel;
    const apply = () => this._apply(code);
    code.mimeTypeChanged.connect(apply);
    code.sharedModel.changed.connect((_, change) => {
      if (change.sourceChange) {
        apply();
      }
    });
    apply();
  }

  private _apply(cell: ICodeCellModel): void {
    if (cell.isDisposed || this._panel.isDisposed) {
      return;
    }
    const wanted = isAgentSource(cell.sharedModel.getSource())
      ? PROMPT_MIME
      : this._panel.content.codeMimetype;
    if (cell.mimeType !== wanted) {
      cell.mimeType = wanted;
    }
  }
}

export const agentCellsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'lagent-nb:agent-cells',
  description: 'Highlights the prompt of %%agent cells as Markdown.',
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    tracker.widgetAdded.connect((_, panel) => new AgentCellHighlighter(panel));
  }
};

/**
 * The lagent_nb JupyterLab extension's front-end plugins. The transcript renderer is the
 * separate mime extension in `mime.ts`, which JupyterLab registers with every rendermime registry.
 */

import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { agentCellsPlugin } from './agentCells';
import { chatSidebarPlugin } from './chatSidebar';

const plugins: JupyterFrontEndPlugin<void>[] = [agentCellsPlugin, chatSidebarPlugin];

export default plugins;

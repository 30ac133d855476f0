/**
 * The mime extension: JupyterLab loads it into every rendermime registry, so transcripts render
 * in notebooks, consoles and cloned output views, with or without a kernel.
 */

import { IRenderMime } from '@jupyterlab/rendermime-interfaces';

import { TranscriptRenderer } from './renderer';
import { TRANSCRIPT_MIME } from './transcript';

export const rendererFactory: IRenderMime.IRendererFactory = {
  // Safe: content is sanitized and nothing executes, so untrusted notebooks render it too.
  safe: true,
  mimeTypes: [TRANSCRIPT_MIME],
  createRenderer: options => new TranscriptRenderer(options)
};

const extension: IRenderMime.IExtension = {
  id: 'lagent-nb:transcript',
  rendererFactory,
  // Preferred over the bundle's text/markdown (60) and HTML (50), below widget views (0).
  rank: 20,
  dataType: 'json'
};

export default extension;

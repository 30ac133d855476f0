/**
 * The widget that draws a transcript inside an output area.
 *
 * Only message content goes through HTML, and only through JupyterLab's Markdown pipeline with
 * `trusted: false`, so the application's sanitizer always runs: the text was written by a model
 * and may contain anything. Every other piece (names, code, tool output) is set as
 * `textContent`, and images are data URLs of a vetted image type.
 */

import { renderMarkdown } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  IToolCall,
  IToolResult,
  ITranscript,
  ITurn,
  readTranscript,
  TRANSCRIPT_MIME
} from './transcript';

const CLASS = 'lagent-nb-Transcript';

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A collapsed `<details>` block whose body is preformatted text. */
function details(className: string, summary: string, body: string): HTMLDetailsElement {
  const node = element('details', className);
  node.appendChild(element('summary', `${className}-summary`, summary));
  if (body) {
    node.appendChild(element('pre', `${className}-body`, body));
  }
  return node;
}

function toolCallNode(call: IToolCall): HTMLElement {
  return details(`${CLASS}-toolCall`, `Tool call: ${call.name}`, call.arguments);
}

function toolResultNode(result: IToolResult): HTMLElement {
  const node = details(
    `${CLASS}-toolResult`,
    result.ok ? 'Tool result' : 'Tool error',
    result.text
  );
  node.classList.toggle(`${CLASS}-toolResult-error`, !result.ok);
  // Images are what the user came to see (a plot): keep them visible without a click.
  node.open = result.images.length > 0;
  for (const image of result.images) {
    const img = element('img', `${CLASS}-image`);
    img.src = `data:${image.mime};base64,${image.data}`;
    img.alt = 'tool output image';
    node.appendChild(img);
  }
  return node;
}

/** A single message titled with its own sender (one chat-panel message) needs no title. */
function showsTitle({ title, turns }: ITranscript): boolean {
  return title !== '' && !(turns.length === 1 && turns[0].sender === title);
}

export class TranscriptRenderer extends Widget implements IRenderMime.IRenderer {
  private _latestRender = 0;

  constructor(private readonly _options: IRenderMime.IRendererOptions) {
    super();
    this.addClass(CLASS);
    // Custom renderers do not get this attribute from the output area; tests and styles use it.
    this.node.dataset.mimeType = TRANSCRIPT_MIME;
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    // A streaming turn updates this output in place, so renders overlap; Markdown rendering
    // is asynchronous, and only the newest render may reach the page.
    const ticket = ++this._latestRender;
    const transcript = readTranscript(model.data[TRANSCRIPT_MIME]);
    const root = element('div', `${CLASS}-body`);
    if (showsTitle(transcript)) {
      root.appendChild(element('div', `${CLASS}-title`, transcript.title));
    }
    await Promise.all(transcript.turns.map(turn => this._renderTurn(turn, root)));
    if (ticket === this._latestRender) {
      this.node.replaceChildren(root);
      if (this.isAttached) {
        this._typeset();
      }
    }
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._typeset();
  }

  /** Math is typeset only in the page (MathJax measures the layout), as Lab's Markdown does. */
  private _typeset(): void {
    this._options.latexTypesetter?.typeset(this.node);
  }

  private async _renderTurn(turn: ITurn, root: HTMLElement): Promise<void> {
    const node = element('div', `${CLASS}-turn ${CLASS}-${turn.role}`);
    node.dataset.role = turn.role;
    node.classList.toggle(`${CLASS}-streaming`, turn.streaming);
    node.appendChild(element('div', `${CLASS}-sender`, turn.sender));
    // Appended before the asynchronous Markdown so the turns keep their order.
    root.appendChild(node);
    if (turn.content) {
      const host = element('div', `${CLASS}-content jp-RenderedHTMLCommon`);
      node.appendChild(host);
      await renderMarkdown({
        host,
        source: turn.content,
        trusted: false,
        sanitizer: this._options.sanitizer,
        resolver: this._options.resolver,
        linkHandler: this._options.linkHandler,
        latexTypesetter: this._options.latexTypesetter,
        markdownParser: this._options.markdownParser ?? null,
        translator: this._options.translator,
        shouldTypeset: false
      });
    }
    if (turn.toolCall) {
      node.appendChild(toolCallNode(turn.toolCall));
    }
    if (turn.toolResult) {
      node.appendChild(toolResultNode(turn.toolResult));
    }
  }
}

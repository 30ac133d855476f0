/**
 * The transcript bundle (docs/transcript-mime.md, version 1) read defensively.
 *
 * The data comes from a saved notebook, so it may be from a later version, hand-edited or
 * truncated: every field is checked and defaulted here, once, so the renderer only ever sees
 * well-typed values and unknown keys are dropped rather than trusted.
 */

export const TRANSCRIPT_MIME = 'application/vnd.lagent-nb.transcript+json';

export type Role = 'user' | 'assistant' | 'tool' | 'system';

export interface IToolCall {
  name: string;
  arguments: string;
}

export interface IImage {
  mime: string;
  data: string;
}

export interface IToolResult {
  ok: boolean;
  text: string;
  images: IImage[];
}

export interface ITurn {
  sender: string;
  role: Role;
  content: string;
  toolCall: IToolCall | null;
  toolResult: IToolResult | null;
  streaming: boolean;
}

export interface ITranscript {
  title: string;
  sessionId: string;
  turns: ITurn[];
}

/** Image types an `<img>` may show from a data URL; anything else is dropped. */
const IMAGE_MIMES = new Set([
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/svg+xml'
]);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const ROLES = new Set<Role>(['user', 'assistant', 'tool', 'system']);

type Json = { [key: string]: unknown };

function asObject(value: unknown): Json | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : null;
}

/** Strings pass through; other JSON values are shown as JSON text rather than lost. */
function asText(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value === null || value === undefined) {
    return '';
  }
  return JSON.stringify(value);
}

function readImage(value: unknown): IImage | null {
  const obj = asObject(value);
  if (!obj || typeof obj.mime !== 'string' || typeof obj.data !== 'string') {
    return null;
  }
  const data = obj.data.replace(/\s+/g, '');
  return IMAGE_MIMES.has(obj.mime) && BASE64.test(data) ? { mime: obj.mime, data } : null;
}

function readToolCall(value: unknown): IToolCall | null {
  const obj = asObject(value);
  return obj ? { name: asText(obj.name) || 'tool', arguments: asText(obj.arguments) } : null;
}

function readToolResult(value: unknown): IToolResult | null {
  const obj = asObject(value);
  if (!obj) {
    return null;
  }
  const images = Array.isArray(obj.images) ? obj.images.map(readImage) : [];
  return {
    ok: obj.ok !== false,
    text: asText(obj.text),
    images: images.filter((image): image is IImage => image !== null)
  };
}

function readTurn(value: unknown): ITurn | null {
  const obj = asObject(value);
  if (!obj) {
    return null;
  }
  // Unknown roles are shown like the user's, as the contract asks.
  const role = ROLES.has(obj.role as Role) ? (obj.role as Role) : 'user';
  return {
    sender: asText(obj.sender) || role,
    role,
    content: asText(obj.content),
    toolCall: readToolCall(obj.tool_call),
    toolResult: readToolResult(obj.tool_result),
    streaming: obj.streaming === true
  };
}

/** Read a transcript bundle; never throws, whatever the input. */
export function readTranscript(data: unknown): ITranscript {
  const obj = asObject(data) ?? {};
  const turns = Array.isArray(obj.messages) ? obj.messages.map(readTurn) : [];
  return {
    title: asText(obj.title),
    sessionId: asText(obj.session_id),
    turns: turns.filter((turn): turn is ITurn => turn !== null)
  };
}

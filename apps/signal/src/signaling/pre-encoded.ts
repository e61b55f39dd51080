/*
 * Sending an event whose payload is already JSON: the bytes on the wire are those
 * `socket.emit(event, payload)` sends, without Socket.IO encoding the payload again (and
 * walking it for binary parts). This leans on Socket.IO 4.8's internals, as its own
 * broadcasts do (socket-io-adapter writes packets encoded once to every socket through the
 * client with `preEncoded`): the packet format of socket.io-parser's default encoder
 * (`2` + namespace + `,` unless it is "/" + the JSON array [event, payload]) and
 * `Client._packet(encoded, { preEncoded: true })`. pre-encoded.test.ts compares the frames a
 * real client receives with those of `emit`, so an upgrade that changes either fails there.
 */

interface ServerOptions {
  parser?: unknown;
  connectionStateRecovery?: unknown;
}

/** What the internals used here look like (Socket.IO 4.8). */
interface Internals {
  nsp: { name: string; server: { opts: ServerOptions } };
  client: { _packet(packet: string, opts: { preEncoded: boolean; compress: boolean }): void };
}

/**
 * Only with the default parser (another encodes differently) and without connection state
 * recovery (which sends every packet through the adapter, to keep it for a reconnection).
 */
function preEncodable(socket: Internals): boolean {
  const opts = socket.nsp.server.opts;
  return opts.parser === undefined && !opts.connectionStateRecovery && typeof socket.client._packet === 'function';
}

/**
 * Send `event` on a Socket.IO server socket with the payload whose JSON is `payloadJson`
 * (exactly JSON.stringify(payload)); `emit` sends it the ordinary way, where a pre-encoded
 * packet cannot be sent.
 */
export function emitPreEncoded(socket: object, event: string, payloadJson: string, emit: () => void): void {
  const internals = socket as Internals;
  if (!preEncodable(internals)) return emit();
  const nsp = internals.nsp.name === '/' ? '' : `${internals.nsp.name},`;
  // socket.io-parser's EVENT packet (type 2) without an ack id; compress as Socket#packet sets it.
  internals.client._packet(`2${nsp}[${JSON.stringify(event)},${payloadJson}]`, { preEncoded: true, compress: true });
}

import type { ClientToServerEvents, RoomView, ServerToClientEvents } from '@group-room/shared';
import { decryptFrame, deriveSenderKeys, type FrameCodec, KeyExchange, type KeyRef, type KeySink, type LinkSecret, parseSecret, ratchetBy, refOf, senderBaseKey, type SenderKeys } from '@group-room/shared/e2ee';
import { io, type Socket } from 'socket.io-client';

/*
 * A member without a browser or media that takes part in the key handshake exactly as a page
 * does (the web client's own KeyExchange), and keeps every key it is given where a test can
 * use them: to show that a removed member's keys do not open what is sent after the rotation.
 */

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

/** Every epoch key handed to this holder, by generation (the earliest step it was given). */
class RecordingSink implements KeySink {
  readonly epochs = new Map<number, { step: number; key: Uint8Array }>();
  readonly used: KeyRef[] = [];
  setSelf(): void {}
  addKeys(keys: (KeyRef & { key: Uint8Array })[]): void {
    for (const { gen, step, key } of keys) {
      const known = this.epochs.get(gen);
      if (!known || step < known.step) this.epochs.set(gen, { step, key });
    }
  }
  use(ref: KeyRef): void {
    this.used.push(ref);
  }
  // A test's holder forgets nothing: it plays a member who kept every key it ever had.
  forget(): void {}
}

export class KeyHolder {
  readonly socket: Client;
  readonly sink = new RecordingSink();
  readonly exchange: KeyExchange;
  view: RoomView | undefined;

  private constructor(socket: Client, roomId: string, secret: LinkSecret) {
    this.socket = socket;
    const bytes = parseSecret(secret.secret);
    if (!bytes) throw new Error('bad link secret');
    const ask = async (name: string, payload: unknown) => {
      const result = (await (socket as unknown as Socket).timeout(10_000).emitWithAck(name, payload)) as { ok: boolean; error?: { message: string } };
      if (!result.ok) throw new Error(`${name}: ${result.error?.message}`);
    };
    this.exchange = new KeyExchange(
      {
        roomId,
        secret: { kind: secret.kind, bytes },
        send: (to, data) => ask('e2ee:relay', { to, data }),
        keysReady: () => undefined,
        changed: () => undefined,
      },
      this.sink,
    );
    socket.on('room:view', ({ view }) => this.#view(view));
    socket.on('e2ee:relay', ({ from, data }) => this.exchange.receive(from, data));
  }

  #view(view: RoomView): void {
    this.view = view;
    this.exchange.setView(view);
  }

  /** Enter with an invite link (token and secret) and accept the agreement. */
  static async enter(url: string, roomId: string, token: string, secret: LinkSecret, name: string): Promise<KeyHolder> {
    const socket: Client = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, query: { room: roomId } });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const holder = new KeyHolder(socket, roomId, secret);
    const entered = (await (socket as unknown as Socket).timeout(10_000).emitWithAck('room:enter', { roomId, token, displayName: name })) as {
      ok: boolean;
      data: { view: RoomView };
    };
    if (!entered.ok) throw new Error('could not enter');
    holder.#view(entered.data.view);
    const version = entered.data.view.agreement.version;
    await (socket as unknown as Socket).timeout(10_000).emitWithAck('room:command', { command: { type: 'agreement.acknowledge', version, privateSpace: true } });
    return holder;
  }

  /** Decrypt one frame from `senderId` with the keys this holder was given (null: it cannot). */
  async decrypt(frame: Uint8Array, codec: FrameCodec, senderId: string): Promise<Uint8Array | null> {
    const keysFor = async (kid: bigint): Promise<SenderKeys | undefined> => {
      const ref = refOf(kid);
      const known = ref && this.sink.epochs.get(ref.gen);
      if (!ref || !known || ref.step < known.step) return undefined;
      const epoch = await ratchetBy(known.key, ref.step - known.step);
      return deriveSenderKeys(await senderBaseKey(epoch, senderId), kid);
    };
    const result = await decryptFrame(frame, codec, keysFor);
    return 'error' in result ? null : result.frame;
  }

  close(): void {
    this.exchange.close();
    this.socket.disconnect();
  }
}

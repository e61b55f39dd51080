import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv4, type Socket as TcpSocket } from 'node:net';

/*
 * Just enough of a TURN client (RFC 8656, RFC 6062) to ask a relay what it allows: Allocate
 * (answered 401 with a realm and nonce, then again with the long-term credential) and
 * CreatePermission, over UDP or TCP, with the answer's error code. IPv4 peers only.
 */

const MAGIC_COOKIE = 0x2112a442;
const ALLOCATE = 0x003;
const CREATE_PERMISSION = 0x008;
const SUCCESS = 0x100;
const ERROR = 0x110;

const USERNAME = 0x0006;
const MESSAGE_INTEGRITY = 0x0008;
const ERROR_CODE = 0x0009;
const XOR_PEER_ADDRESS = 0x0012;
const REALM = 0x0014;
const NONCE = 0x0015;
const XOR_RELAYED_ADDRESS = 0x0016;
const REQUESTED_TRANSPORT = 0x0019;

/** A success, or the relay's error code (e.g. 403 Forbidden, 442 Unsupported Transport Protocol). */
export type TurnAnswer = { ok: true; relayed?: string } | { ok: false; code: number; reason: string };

interface Attribute {
  type: number;
  value: Buffer;
}

interface Message {
  type: number;
  transactionId: Buffer;
  attributes: Attribute[];
}

const pad4 = (n: number) => (n + 3) & ~3;

function encode(type: number, transactionId: Buffer, attributes: Attribute[], key?: Buffer): Buffer {
  const body = Buffer.concat(
    attributes.map(({ type: t, value }) => {
      const attr = Buffer.alloc(4 + pad4(value.length));
      attr.writeUInt16BE(t, 0);
      attr.writeUInt16BE(value.length, 2);
      value.copy(attr, 4);
      return attr;
    }),
  );
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(header, 8);
  if (!key) {
    header.writeUInt16BE(body.length, 2);
    return Buffer.concat([header, body]);
  }
  // MESSAGE-INTEGRITY: HMAC-SHA1 over the message up to it, its length already counting it.
  header.writeUInt16BE(body.length + 24, 2);
  const mac = createHmac('sha1', key).update(Buffer.concat([header, body])).digest();
  const integrity = Buffer.alloc(24);
  integrity.writeUInt16BE(MESSAGE_INTEGRITY, 0);
  integrity.writeUInt16BE(20, 2);
  mac.copy(integrity, 4);
  return Buffer.concat([header, body, integrity]);
}

function decode(data: Buffer): Message {
  const length = data.readUInt16BE(2);
  const attributes: Attribute[] = [];
  for (let at = 20; at + 4 <= 20 + length; ) {
    const type = data.readUInt16BE(at);
    const size = data.readUInt16BE(at + 2);
    attributes.push({ type, value: data.subarray(at + 4, at + 4 + size) });
    at += 4 + pad4(size);
  }
  return { type: data.readUInt16BE(0), transactionId: data.subarray(8, 20), attributes };
}

function xorAddress(ip: string, port: number): Buffer {
  if (!isIPv4(ip)) throw new Error(`only IPv4 peers: ${ip}`);
  const value = Buffer.alloc(8);
  value.writeUInt8(0x01, 1);
  value.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), 2);
  const address = ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  value.writeUInt32BE((address ^ MAGIC_COOKIE) >>> 0, 4);
  return value;
}

function readXorAddress(value: Buffer): string {
  const address = (value.readUInt32BE(4) ^ MAGIC_COOKIE) >>> 0;
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  return `${[24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff).join('.')}:${port}`;
}

function answerOf(message: Message, method: number): TurnAnswer {
  const attr = (type: number) => message.attributes.find((a) => a.type === type)?.value;
  if (message.type === (method | SUCCESS)) {
    const relayed = attr(XOR_RELAYED_ADDRESS);
    return relayed ? { ok: true, relayed: readXorAddress(relayed) } : { ok: true };
  }
  if (message.type !== (method | ERROR)) throw new Error(`unexpected STUN message type 0x${message.type.toString(16)}`);
  const error = attr(ERROR_CODE);
  if (!error) throw new Error('an error response without ERROR-CODE');
  return { ok: false, code: (error.readUInt8(2) & 0x07) * 100 + error.readUInt8(3), reason: error.subarray(4).toString('utf8') };
}

export interface TurnClientOptions {
  host: string;
  port: number;
  /** How this client reaches the relay (an RFC 6062 TCP allocation must be asked for over TCP). */
  transport: 'udp' | 'tcp';
  username: string;
  password: string;
}

/** One client transport to a relay, holding at most one allocation (as TURN does). */
export class TurnClient {
  private readonly pending = new Map<string, (message: Message) => void>();
  private auth: { realm: string; nonce: string; key: Buffer } | null = null;

  private constructor(
    private readonly options: TurnClientOptions,
    private readonly send: (data: Buffer) => void,
    readonly close: () => void,
  ) {}

  static async open(options: TurnClientOptions): Promise<TurnClient> {
    if (options.transport === 'udp') {
      const socket: UdpSocket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      const client: TurnClient = new TurnClient(options, (data) => socket.send(data, options.port, options.host), () => socket.close());
      socket.on('message', (data) => client.receive(data));
      return client;
    }
    const socket: TcpSocket = connect(options.port, options.host);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client: TurnClient = new TurnClient(options, (data) => socket.write(data), () => socket.destroy());
    // Over TCP, STUN messages follow each other: each is its 20-byte header and its length.
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 20 && buffered.length >= 20 + buffered.readUInt16BE(2)) {
        const size = 20 + buffered.readUInt16BE(2);
        client.receive(buffered.subarray(0, size));
        buffered = buffered.subarray(size);
      }
    });
    return client;
  }

  /** Allocate a relay of this transport: UDP (RFC 8656) or TCP (RFC 6062). */
  allocate(relay: 'udp' | 'tcp' = 'udp'): Promise<TurnAnswer> {
    const requested = Buffer.from([relay === 'udp' ? 17 : 6, 0, 0, 0]);
    return this.authenticated(ALLOCATE, [{ type: REQUESTED_TRANSPORT, value: requested }]);
  }

  /** Ask to exchange packets with this peer address through the allocation. */
  createPermission(peer: string): Promise<TurnAnswer> {
    return this.authenticated(CREATE_PERMISSION, [{ type: XOR_PEER_ADDRESS, value: xorAddress(peer, 9) }]);
  }

  private async authenticated(method: number, attributes: Attribute[]): Promise<TurnAnswer> {
    if (!this.auth) {
      // The first request goes without credentials: the answer (401) names the realm and a nonce.
      const challenge = await this.transact(method, attributes);
      const answer = answerOf(challenge, method);
      if (answer.ok || answer.code !== 401) return answer;
      const text = (type: number) => challenge.attributes.find((a) => a.type === type)?.value.toString('utf8') ?? '';
      const realm = text(REALM);
      const key = createHash('md5').update(`${this.options.username}:${realm}:${this.options.password}`).digest();
      this.auth = { realm, nonce: text(NONCE), key };
    }
    const { realm, nonce, key } = this.auth;
    const credentials = [
      { type: USERNAME, value: Buffer.from(this.options.username) },
      { type: REALM, value: Buffer.from(realm) },
      { type: NONCE, value: Buffer.from(nonce) },
    ];
    return answerOf(await this.transact(method, [...attributes, ...credentials], key), method);
  }

  private transact(method: number, attributes: Attribute[], key?: Buffer): Promise<Message> {
    const transactionId = randomBytes(12);
    const data = encode(method, transactionId, attributes, key);
    return new Promise((resolve, reject) => {
      const id = transactionId.toString('hex');
      // UDP may lose a request: send it again a few times before giving up.
      let tries = 0;
      const retry = () => {
        if (tries++ === 5) {
          this.pending.delete(id);
          reject(new Error('no answer from the relay'));
          return;
        }
        this.send(data);
        timer = setTimeout(retry, 500);
      };
      let timer: NodeJS.Timeout | undefined;
      this.pending.set(id, (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      retry();
    });
  }

  private receive(data: Buffer): void {
    if (data.length < 20 || data.readUInt32BE(4) !== MAGIC_COOKIE) return;
    const message = decode(data);
    const id = message.transactionId.toString('hex');
    const settle = this.pending.get(id);
    this.pending.delete(id);
    settle?.(message);
  }
}

import type { types } from 'mediasoup';
import { JanusApi, LOOPBACK_ICE_ADDRESS } from './janus.js';

/*
 * A Janus VideoRoom subscriber without a browser, for the capacity bench's "full receivers"
 * comparison: Janus sends each subscriber's media over WebRTC (ICE, DTLS-SRTP), keeps its
 * retransmission buffers and answers NACKs (but see below), as for a browser; this receives it as a
 * browser would, cheaply, with mediasoup.
 *
 *   subscribeJanus({ janusUrl, room, feeds, worker }) → { stats(), close() }
 *     janusUrl: Janus's HTTP API (startJanus().apiUrl); each call makes a session of its own
 *             whose one handle is the subscriber (one PeerConnection).
 *     feeds:  publisher ids; one subscription carries every stream of each (Janus 1.1 multistream).
 *     worker: the receiving side's mediasoup worker (the caller makes it; a router is made in it).
 *     stats(): { packets, lost, nacks } summed over the received streams (mediasoup's own
 *             receive counters: RTP packets received, packets lost by RFC 3550, NACKs sent).
 *     close(): hangs up (destroys the Janus session) and closes the router.
 *     (relay: for the check only, a UDP relay put between Janus and the receiver.)
 *
 * How: Janus sends the SDP offer (`join` as subscriber → `attached` with the offer). A mediasoup
 * WebRtcTransport on 127.0.0.2 (below) answers it: mediasoup is ICE-lite, Janus (libnice) a full agent
 * that runs the checks; the DTLS role follows the offer's a=setup (actpass → we are the
 * client); each offered audio/video stream becomes a mediasoup *producer* with the offer's SSRC,
 * payload type and the offer's NACK/PLI/FIR feedback, so mediasoup receives it as an SFU does a
 * browser's: it sends NACKs for gaps and RTCP receiver reports. The answer (`start`) is built by
 * hand from mediasoup's ICE and DTLS parameters. Congestion-control feedback (transport-cc,
 * REMB) and RTX are not accepted: the receiver asks for retransmission by NACK and Janus resends
 * on the same SSRC (as mediasoup does for a consumer without RTX).
 *
 * Only inside the bench's network namespace (janus.ts runInLoopbackNamespace): Janus gathers
 * its one ICE candidate on LOOPBACK_ICE_ADDRESS (127.0.0.2) there, and has none anywhere else;
 * the caller's Janus, this process and its mediasoup worker must all run inside it. mediasoup
 * listens on that same address: with its candidate on 127.0.0.1 instead, Janus (libnice 0.1.x,
 * Debian's) sent it no connectivity check at all (mediasoup's ICE stayed "new", Janus logged
 * "ICE failed for component 1 in stream 1"), while on 127.0.0.2 the pair connects at once.
 * Proof that it receives: janus-subscriber-check.ts (two feeds, nothing lost; gaps NACKed).
 *
 * Full receivers, as far as Janus goes here: it gets this receiver's NACKs and receiver reports
 * and matches them to the right stream (see senderSsrcLines), and resends what it still holds.
 * But Janus 1.1.2 holds sent packets for retransmission only in a stream whose round-trip time
 * it has computed as over 0 ms, from the first report block of a receiver report only (ice.c,
 * rtcp.c "FIXME Check the Record Blocks"); mediasoup reports every stream in one receiver report,
 * and over loopback the round trip is often under 1 ms. So here Janus keeps a retransmission
 * buffer for at most one stream per subscriber, sometimes none: it does less per subscriber than
 * over a real network (janus-subscriber-check.ts, phase 3, shows how much it resent). Janus always
 * encrypts (SRTP) per subscriber; the receiving worker decrypts (in a room of 12, about half the
 * CPU Janus used, noisy).
 */

type Json = Record<string, unknown>;

export interface JanusSubscriberStats {
  /** RTP packets received, every stream. */
  packets: number;
  /** Packets lost (RFC 3550 cumulative, after retransmissions filled gaps). */
  lost: number;
  /** NACK packets the receiver sent. */
  nacks: number;
}

export interface JanusSubscriber {
  stats(): Promise<JanusSubscriberStats>;
  close(): Promise<void>;
}

export interface JanusSubscribeOptions {
  janusUrl: string;
  room: number;
  feeds: number[];
  worker: types.Worker;
  /** How long ICE and DTLS may take before giving up (ms). */
  timeoutMs?: number;
  /**
   * For checks only: a relay in front of the receiver (given the receiver's UDP port on
   * LOOPBACK_ICE_ADDRESS, it returns the port to announce to Janus instead).
   */
  relay?: (port: number) => Promise<number>;
}

/** The events of one Janus session, long-polled over the HTTP API; each waiter takes the first match. */
class JanusEvents {
  readonly #session: string;
  readonly #abort = new AbortController();
  readonly #waiters: { match: (event: Json) => boolean; resolve: (event: Json) => void }[] = [];
  readonly #seen: Json[] = [];
  #failure: Error | undefined;

  constructor(handleUrl: string) {
    this.#session = handleUrl.slice(0, handleUrl.lastIndexOf('/'));
    void this.#poll();
  }

  async #poll(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        const response = await fetch(`${this.#session}?maxev=10&rid=${Date.now()}`, { signal: this.#abort.signal });
        const events = (await response.json()) as Json | Json[];
        for (const event of Array.isArray(events) ? events : [events]) {
          if (event.janus === 'keepalive') continue;
          const i = this.#waiters.findIndex((w) => w.match(event));
          if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(event);
          else this.#seen.push(event);
        }
      } catch (error) {
        if (!this.#abort.signal.aborted) this.#failure = error instanceof Error ? error : new Error(String(error));
        return;
      }
    }
  }

  /** The first event (already seen or coming) that matches, or an error after `ms`. */
  next(match: (event: Json) => boolean, ms: number, what: string): Promise<Json> {
    const i = this.#seen.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#seen.splice(i, 1)[0]!);
    return new Promise<Json>((resolve, reject) => {
      const waiter = { match, resolve: (event: Json) => (clearTimeout(timer), resolve(event)) };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`janus subscriber: no ${what} within ${ms} ms${this.#failure ? ` (event poll failed: ${this.#failure.message})` : ''}; other events: ${JSON.stringify(this.#seen.slice(-5))}`));
      }, ms);
      this.#waiters.push(waiter);
    });
  }

  /** Janus's session URL (destroy it to hang up). */
  get session(): string {
    return this.#session;
  }

  stop(): void {
    this.#abort.abort();
  }
}

/** A request Janus answers later by an event (the videoroom `join` and `start`): the event's data and JSEP. */
async function ask(api: JanusApi, events: JanusEvents, transaction: string, body: Json, ms: number, jsep?: Json): Promise<{ data: Json; jsep?: Json }> {
  const response = (await (await fetch(api.handleUrl, { method: 'POST', body: JSON.stringify({ janus: 'message', transaction, body, ...(jsep ? { jsep } : {}) }) })).json()) as Json;
  const event = response.janus === 'ack' ? await events.next((e) => e.transaction === transaction, ms, `answer to ${String(body.request)}`) : response;
  const data = ((event.plugindata as Json | undefined)?.data ?? {}) as Json;
  if (event.janus === 'error' || data.error_code !== undefined) throw new Error(`janus ${String(body.request)}: ${JSON.stringify(event.error ?? data.error)}`);
  return { data, ...(event.jsep ? { jsep: event.jsep as Json } : {}) };
}

// ---------------------------------------------------------------------------------------------
// The offer, read as far as a receiver needs it

interface OfferedStream {
  kind: 'audio' | 'video';
  mid: string;
  payloadType: number;
  /** rtpmap's encoding name, clock rate and channels. */
  codec: { name: string; clockRate: number; channels?: number };
  fmtp: Record<string, string | number>;
  feedback: { type: string; parameter: string }[];
  ssrc: number;
  cname: string;
}

interface OfferSection {
  /** The m= line's first fields (kind, port, protocol) and its formats. */
  media: string;
  protocol: string;
  formats: string[];
  mid: string;
  stream?: OfferedStream;
}

/** NACK, PLI and FIR: the feedback a browser answers with; no congestion control (see the header). */
const FEEDBACK = new Set(['nack', 'nack pli', 'ccm fir']);
const CODECS: Record<string, string> = { opus: 'audio/opus', vp8: 'video/VP8' };

export function parseOffer(sdp: string): { sections: OfferSection[]; fingerprint: types.DtlsFingerprint; setup: string } {
  const [session = '', ...media] = sdp.replace(/\r/g, '').split(/\n(?=m=)/);
  const sessionLines = session.split('\n');
  let fingerprint: types.DtlsFingerprint | undefined;
  let setup = 'actpass';
  const attr = (lines: string[], name: string) => lines.filter((l) => l.startsWith(`a=${name}:`)).map((l) => l.slice(name.length + 3));
  const readDtls = (lines: string[]) => {
    const [algorithm, value] = (attr(lines, 'fingerprint')[0] ?? '').split(' ');
    if (algorithm && value) fingerprint = { algorithm: algorithm.toLowerCase() as types.FingerprintAlgorithm, value };
    setup = attr(lines, 'setup')[0] ?? setup;
  };
  readDtls(sessionLines);
  const sections = media.map((text): OfferSection => {
    const lines = text.split('\n');
    const [kind = '', port = '0', protocol = '', ...formats] = lines[0]!.slice(2).split(' ');
    readDtls(lines);
    const section: OfferSection = { media: kind, protocol, formats, mid: attr(lines, 'mid')[0] ?? '' };
    const direction = lines.find((l) => /^a=(sendonly|sendrecv)$/.test(l));
    if ((kind !== 'audio' && kind !== 'video') || port === '0' || !direction) return section;
    for (const format of formats) {
      const [name = '', clockRate = '0', channels] = (attr(lines, 'rtpmap').find((r) => r.startsWith(`${format} `)) ?? '').slice(format.length + 1).split('/');
      if (!CODECS[name.toLowerCase()]) continue;
      // The media SSRC: the first of an RTX pair (a=ssrc-group:FID media rtx), else the one listed.
      const ssrc = Number(attr(lines, 'ssrc-group').find((g) => g.startsWith('FID '))?.split(' ')[1] ?? attr(lines, 'ssrc')[0]?.split(' ')[0]);
      const cname = attr(lines, 'ssrc').map((l) => /^(\d+) cname:(\S+)/.exec(l)).find((m) => Number(m?.[1]) === ssrc)?.[2] ?? 'janus';
      const fmtp: Record<string, string | number> = {};
      for (const pair of (attr(lines, 'fmtp').find((f) => f.startsWith(`${format} `)) ?? '').slice(format.length + 1).split(';')) {
        const [key, value] = pair.trim().split('=');
        if (key && value !== undefined) fmtp[key] = /^\d+$/.test(value) ? Number(value) : value;
      }
      section.stream = {
        kind,
        mid: section.mid,
        payloadType: Number(format),
        codec: { name, clockRate: Number(clockRate), ...(channels ? { channels: Number(channels) } : {}) },
        fmtp,
        feedback: attr(lines, 'rtcp-fb')
          .filter((f) => f.startsWith(`${format} `) || f.startsWith('* '))
          .map((f) => f.slice(f.indexOf(' ') + 1))
          .filter((f) => FEEDBACK.has(f))
          .map((f) => ({ type: f.split(' ')[0]!, parameter: f.split(' ')[1] ?? '' })),
        ssrc,
        cname,
      };
      break;
    }
    return section;
  });
  if (!fingerprint) throw new Error('janus subscriber: the offer has no DTLS fingerprint');
  return { sections, fingerprint, setup };
}

/** The SDP answer: every stream received on the one mediasoup transport (BUNDLE), anything else rejected. */
function answerSdp(sections: OfferSection[], transport: types.WebRtcTransport, setup: string, port: (port: number) => number): string {
  const { usernameFragment, password } = transport.iceParameters;
  const fingerprint = transport.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256')!;
  const candidates = transport.iceCandidates.map((c) => `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address} ${port(c.port)} typ ${c.type}`);
  const accepted = sections.filter((s) => s.stream);
  const lines = ['v=0', `o=- ${Date.now()} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=ice-lite', `a=group:BUNDLE ${accepted.map((s) => s.mid).join(' ')}`, 'a=msid-semantic: WMS'];
  for (const section of sections) {
    const stream = section.stream;
    if (!stream) {
      lines.push(`m=${section.media} 0 ${section.protocol} ${section.formats.join(' ')}`, 'c=IN IP4 0.0.0.0', `a=mid:${section.mid}`, 'a=inactive');
      continue;
    }
    const pt = stream.payloadType;
    const fmtp = Object.entries(stream.fmtp).map(([k, v]) => `${k}=${v}`);
    lines.push(
      `m=${stream.kind} 9 UDP/TLS/RTP/SAVPF ${pt}`,
      'c=IN IP4 127.0.0.1',
      `a=mid:${stream.mid}`,
      'a=recvonly',
      `a=ice-ufrag:${usernameFragment}`,
      `a=ice-pwd:${password}`,
      `a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`,
      `a=setup:${setup}`,
      'a=rtcp-mux',
      'a=rtcp-rsize',
      `a=rtpmap:${pt} ${stream.codec.name}/${stream.codec.clockRate}${stream.codec.channels ? `/${stream.codec.channels}` : ''}`,
      ...(fmtp.length > 0 ? [`a=fmtp:${pt} ${fmtp.join(';')}`] : []),
      ...stream.feedback.map((f) => `a=rtcp-fb:${pt} ${f.type}${f.parameter ? ` ${f.parameter}` : ''}`),
      ...senderSsrcLines(stream.kind),
      ...candidates,
      'a=end-of-candidates',
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * SSRCs declared for a receive-only section, though nothing is sent on them. Janus 1.1.2 files
 * every SSRC the answer declares for a section in a table it matches incoming RTCP against (by
 * the RTCP's sender SSRC first, else by the reported SSRC); without declarations it files 0 (a
 * video section three times: its simulcast slots). mediasoup sends its receiver reports and
 * NACKs with sender SSRC 0, so Janus took every one for the first section with a 0 (seen in its
 * debug log: NACKs for one stream looked up in another's buffer, video reports read as a
 * simulcast layer it has no context for) and resent nothing. A browser's RTCP carries a sender
 * SSRC Janus does not know (Chrome: 1), so Janus goes by the reported SSRC: with these
 * declarations, so does it for this receiver.
 */
function senderSsrcLines(kind: 'audio' | 'video'): string[] {
  const ssrcs = Array.from({ length: kind === 'video' ? 3 : 1 }, () => 1 + Math.floor(Math.random() * 0xfffffffe));
  return [...(ssrcs.length > 1 ? [`a=ssrc-group:SIM ${ssrcs.join(' ')}`] : []), ...ssrcs.map((ssrc) => `a=ssrc:${ssrc} cname:receiver`)];
}

/** A receiving producer's parameters: the offered stream as mediasoup expects a sender's. */
function rtpParameters(stream: OfferedStream): types.RtpParameters {
  return {
    mid: stream.mid,
    codecs: [
      {
        mimeType: CODECS[stream.codec.name.toLowerCase()]!,
        payloadType: stream.payloadType,
        clockRate: stream.codec.clockRate,
        ...(stream.codec.channels ? { channels: stream.codec.channels } : {}),
        parameters: stream.fmtp,
        rtcpFeedback: stream.feedback,
      },
    ],
    headerExtensions: [],
    encodings: [{ ssrc: stream.ssrc }],
    rtcp: { cname: stream.cname, reducedSize: true },
  };
}

const ROUTER_CODECS: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000 },
];

export async function subscribeJanus(options: JanusSubscribeOptions): Promise<JanusSubscriber> {
  const { room, feeds, worker } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const api = await JanusApi.connect(options.janusUrl);
  const events = new JanusEvents(api.handleUrl);
  const router = await worker.createRouter({ mediaCodecs: ROUTER_CODECS });
  const hangUp = async () => {
    events.stop();
    router.close();
    await fetch(events.session, { method: 'POST', body: JSON.stringify({ janus: 'destroy', transaction: 'bye' }) }).catch(() => undefined);
  };
  try {
    const joined = await ask(api, events, 'join', { request: 'join', ptype: 'subscriber', room, streams: feeds.map((feed) => ({ feed })) }, timeoutMs);
    if (joined.jsep?.type !== 'offer') throw new Error(`janus subscriber: join gave no offer (${JSON.stringify(joined.data)})`);
    const offer = parseOffer(String(joined.jsep.sdp));
    // No ICE consent timeout: Janus sends no consent checks that mediasoup counts (RFC 7675), and
    // with the default 30 s the media stopped after half a minute (seen: 458 of ~600 pkt/s over 40 s).
    const transport = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: LOOPBACK_ICE_ADDRESS }], enableTcp: false, iceConsentTimeout: 0 });
    // actpass or passive: we are the DTLS client, so Janus is the server; active: the reverse.
    const ourSetup = offer.setup === 'active' ? 'passive' : 'active';
    await transport.connect({ dtlsParameters: { role: ourSetup === 'active' ? 'server' : 'client', fingerprints: [offer.fingerprint] } });
    const producers: types.Producer[] = [];
    for (const section of offer.sections) {
      if (section.stream) producers.push(await transport.produce({ kind: section.stream.kind, rtpParameters: rtpParameters(section.stream) }));
    }
    if (producers.length === 0) throw new Error(`janus subscriber: the offer has no opus or VP8 stream to receive:\n${String(joined.jsep.sdp)}`);
    const relayed = new Map<number, number>();
    for (const { port } of transport.iceCandidates) relayed.set(port, options.relay ? await options.relay(port) : port);
    const up = events.next((e) => e.janus === 'webrtcup', timeoutMs, 'webrtcup (ICE and DTLS done)');
    await ask(api, events, 'start', { request: 'start' }, timeoutMs, { type: 'answer', sdp: answerSdp(offer.sections, transport, ourSetup, (port) => relayed.get(port)!), trickle: false });
    await up.catch((error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; mediasoup ICE ${transport.iceState}, DTLS ${transport.dtlsState}`);
    });
    return {
      async stats() {
        const total = { packets: 0, lost: 0, nacks: 0 };
        for (const producer of producers) {
          for (const s of await producer.getStats()) {
            total.packets += s.packetCount;
            total.lost += s.packetsLost;
            total.nacks += s.nackCount;
          }
        }
        return total;
      },
      close: hangUp,
    };
  } catch (error) {
    await hangUp();
    throw error;
  }
}

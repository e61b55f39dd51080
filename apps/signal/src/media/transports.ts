import { ProtocolFailure, type TransportDirection, type TransportOptions } from '@group-room/shared';
import type { types } from 'mediasoup';
import type { PeerMedia } from './peer-media.js';

const MAX_INCOMING_BITRATE = 1_500_000;
/**
 * Where the estimate of what a receiver can take starts (it then follows transport-cc). A room
 * of 12 sends a newcomer eleven small simulcast layers and audio, about 2 Mbit/s: started at
 * 1 Mbit/s, some tiles opened on the 90p layer and switched up (a key frame each) over the
 * first seconds; a weak link is found within a second or so and the layers come down.
 */
const INITIAL_RECEIVE_BITRATE = 3_000_000;
const INITIAL_SEND_BITRATE = 1_000_000;

/** Where a room's transports listen: its worker's WebRtcServer, and the address plain transports use. */
export interface TransportSite {
  readonly router: types.Router;
  readonly webRtcServer: types.WebRtcServer;
  readonly listenIp: string;
  readonly announcedAddress: string;
}

export async function createWebRtcTransport(site: TransportSite, peer: PeerMedia, direction: TransportDirection): Promise<TransportOptions> {
  const release = peer.claim(`transport:${direction}`, peer.transportFor(direction) !== undefined, `A ${direction} transport already exists`);
  try {
    const transport = await site.router.createWebRtcTransport({
      webRtcServer: site.webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: direction === 'recv' ? INITIAL_RECEIVE_BITRATE : INITIAL_SEND_BITRATE,
      appData: { direction },
    });
    try {
      if (direction === 'send') await transport.setMaxIncomingBitrate(MAX_INCOMING_BITRATE);
      // The member's media was closed meanwhile (they left, or started afresh): nobody would use it.
      if (peer.closed) throw new ProtocolFailure('INVALID_STATE', 'Media was started again meanwhile');
    } catch (error) {
      transport.close();
      throw error;
    }
    peer.transports.set(transport.id, transport);
    transport.observer.once('close', () => peer.transports.delete(transport.id));
    transport.on('dtlsstatechange', (state) => {
      if (state === 'failed' || state === 'closed') transport.close();
    });
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  } finally {
    release();
  }
}

/**
 * Load tests: a plain RTP transport for a synthetic member (no ICE, no DTLS). A send
 * transport learns where the member sends from (comedia); a receive one is told where to
 * send by `connectPlain`. Bounded like WebRTC ones: one per direction. `srtp`: a receive
 * transport encrypts what it sends, as a browser's does (the suite browsers negotiate).
 */
export async function createPlainTransport(site: TransportSite, peer: PeerMedia, direction: TransportDirection, srtp = false): Promise<{ id: string; ip: string; port: number }> {
  if (srtp && direction !== 'recv') throw new ProtocolFailure('BAD_REQUEST', 'SRTP is for a receive transport');
  const release = peer.claim(`transport:${direction}`, peer.transportFor(direction) !== undefined, `A ${direction} transport already exists`);
  try {
    const transport = await site.router.createPlainTransport({
      listenInfo: { protocol: 'udp', ip: site.listenIp, announcedAddress: site.announcedAddress },
      rtcpMux: true,
      comedia: direction === 'send',
      ...(srtp ? { enableSrtp: true, srtpCryptoSuite: 'AEAD_AES_256_GCM' as const } : {}),
      appData: { direction, plain: true },
    });
    if (peer.closed) {
      transport.close();
      throw new ProtocolFailure('INVALID_STATE', 'Media was started again meanwhile');
    }
    peer.transports.set(transport.id, transport);
    transport.observer.once('close', () => peer.transports.delete(transport.id));
    return { id: transport.id, ip: site.announcedAddress, port: transport.tuple.localPort };
  } finally {
    release();
  }
}

export async function connectPlain(peer: PeerMedia, transportId: string, ip: string, port: number): Promise<void> {
  const transport = peer.transports.get(transportId);
  if (!transport || !transport.appData['plain']) throw new ProtocolFailure('NOT_FOUND', 'No such plain transport');
  const plain = transport as types.PlainTransport;
  // With SRTP, mediasoup needs the remote's key too: a load test's receiver sends nothing that
  // needs secrecy, so it is given the transport's own.
  await plain.connect({ ip, port, ...(plain.srtpParameters ? { srtpParameters: plain.srtpParameters } : {}) });
}

export function transportOf(peer: PeerMedia, transportId: string): types.WebRtcTransport | types.PlainTransport {
  const transport = peer.transports.get(transportId);
  if (!transport) throw new ProtocolFailure('NOT_FOUND', 'No such transport');
  return transport;
}

function webRtcOf(peer: PeerMedia, transportId: string): types.WebRtcTransport {
  const transport = transportOf(peer, transportId);
  if (transport.appData['plain']) throw new ProtocolFailure('BAD_REQUEST', 'Not a WebRTC transport');
  return transport as types.WebRtcTransport;
}

/** New ICE credentials for a transport whose path broke (the client restarts ICE with them). */
export async function restartIce(peer: PeerMedia, transportId: string): Promise<types.IceParameters> {
  return webRtcOf(peer, transportId).restartIce();
}

export async function connectTransport(peer: PeerMedia, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
  const transport = webRtcOf(peer, transportId);
  if (transport.appData['connecting']) throw new ProtocolFailure('INVALID_STATE', 'This transport is already connected');
  transport.appData['connecting'] = true;
  try {
    await transport.connect({ dtlsParameters });
  } catch (error) {
    transport.appData['connecting'] = false;
    throw error;
  }
}

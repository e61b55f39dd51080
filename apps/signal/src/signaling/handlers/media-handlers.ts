import { ProtocolFailure, type IceParameters, type ProducerView, type RtpCapabilities, type TransportOptions } from '@group-room/shared';
import type { types } from 'mediasoup';
import { turnCredentials } from '../../auth/turn-credentials.js';
import { authoriseScreen } from '../../room/authorisation.js';
import { putProducer, removeProducer, setProducerPaused } from '../../room/producers.js';
import { clearProducers } from '../../room/seats.js';
import { mediaAllowed, mediaPolicy } from '../../room/state.js';
import { asWire } from '../../wire.js';
import type { Connection, NodeDeps } from '../connection.js';
import type { RequestHandlers } from '../request-router.js';

type MediaRequests =
  | 'media:join'
  | 'transport:create'
  | 'transport:restartIce'
  | 'media:resync'
  | 'transport:connect'
  | 'media:produce'
  | 'media:setProducerPaused'
  | 'media:closeProducer'
  | 'media:ready'
  | 'media:receiveVideo'
  | 'consumer:resume'
  | 'consumers:resume'
  | 'consumer:prefer';

/** A person's media in their room: joining the router, transports, what they send and receive. */
export function mediaHandlers(conn: Connection, deps: NodeDeps): Pick<RequestHandlers, MediaRequests> {
  const { store, config } = deps;
  return {
    'media:join': async () =>
      conn.inMediaOrder(async () => {
        const { room, memberId } = conn.requireEntered();
        return conn.queuing(() =>
          room.run(async () => {
            const state = await store.get(room.id);
            if (!state || state.ended) throw new ProtocolFailure('NOT_FOUND', 'This session has ended');
            if (!mediaAllowed(state, memberId)) {
              throw new ProtocolFailure('FORBIDDEN', 'Media starts once you are admitted and have agreed to the current agreement');
            }
            // Media starts afresh for this seat (e.g. after a reload): the old page's producers go.
            // (Before opening the router: publishing a change closes a router nobody is in.)
            const current = await room.change(clearProducers(memberId));
            const media = await room.openMedia();
            media.removePeer(memberId);
            media.addPeer(memberId, (event, payload) => conn.send(event, payload));
            await media.applyPolicy(mediaPolicy(current));
            // The relay credentials are this seat's own and end with the session (when its room
            // expires); only here, to a member media is allowed for, are they handed out (a resume or
            // an ICE restart gives none).
            const until = current.session.endsAt + config.ROOM_GRACE_SECONDS * 1000;
            const iceServers = turnCredentials(config, { roomId: room.id, memberId, until });
            return { routerRtpCapabilities: asWire<RtpCapabilities>(media.router.rtpCapabilities), iceServers };
          }),
        );
      }),

    'transport:create': async ({ direction }) =>
      conn.inMediaOrder(async () => {
        const { memberId, media } = conn.requireMedia();
        return asWire<TransportOptions>(await media.createTransport(memberId, direction));
      }),

    'transport:restartIce': async ({ transportId }) => {
      const { memberId, media } = conn.requireMedia();
      return { iceParameters: asWire<IceParameters>(await media.restartIce(memberId, transportId)) };
    },

    'media:resync': async () => {
      const { memberId, media } = conn.requireMedia();
      return { consumerIds: media.resync(memberId) };
    },

    'transport:connect': async ({ transportId, dtlsParameters }) => {
      const { memberId, media } = conn.requireMedia();
      await media.connectTransport(memberId, transportId, asWire<types.DtlsParameters>(dtlsParameters));
      return {};
    },

    // The next three record their media step in the room's state: each holds one of the
    // connection's places in the queue from the start, so a refusal comes before the media step.
    'media:produce': async ({ transportId, kind, source, rtpParameters, paused }) => {
      const { room, memberId, media } = conn.requireMedia();
      // A screen without a grant is refused before anything is made (a modified client); the
      // state's change (putProducer) checks again, with the count of shares, and is what decides.
      const known = room.latest;
      if (source === 'screen' && known) authoriseScreen(known, memberId);
      return conn.queuing(async () => {
        const producer = await media.produce(memberId, { transportId, kind, source, paused, rtpParameters: asWire<types.RtpParameters>(rtpParameters) });
        const view: ProducerView = { id: producer.id, kind, source, paused };
        try {
          await conn.change(room, putProducer(memberId, view));
        } catch (error) {
          producer.close();
          // A refusal wrote nothing. Anything else may have come after the write (its effects
          // here failed), leaving the state recording a producer now closed: take it out too.
          // (A lost lease refuses in its own way: the room is served elsewhere from then on, and
          // this seat's next media:join there clears its producers.)
          if (!(error instanceof ProtocolFailure)) void conn.change(room, removeProducer(memberId, producer.id)).catch(() => undefined);
          throw error;
        }
        return { producerId: producer.id };
      });
    },

    'media:setProducerPaused': async ({ producerId, paused }) => {
      const { room, memberId, media } = conn.requireMedia();
      return conn.queuing(async () => {
        await media.setProducerPaused(memberId, producerId, paused);
        // Record the latest wish when the change runs, not this request's: a quick mute and
        // unmute finish their media steps out of order, and the view must end as the media does.
        await conn.change(room, (state) => setProducerPaused(memberId, producerId, media.selfPaused(memberId, producerId) ?? paused)(state));
        return {};
      });
    },

    'media:closeProducer': async ({ producerId }) => {
      const { room, memberId, media } = conn.requireMedia();
      return conn.queuing(async () => {
        media.closeProducer(memberId, producerId);
        await conn.change(room, removeProducer(memberId, producerId));
        return {};
      });
    },

    // Everything the others already send comes in the answer, so the client sets it all up and
    // resumes it with one `consumers:resume`.
    'media:ready': async ({ rtpCapabilities, tileHeight }) =>
      conn.inMediaOrder(async () => {
        const { memberId, media } = conn.requireMedia();
        return { consumers: await media.setReady(memberId, asWire<types.RtpCapabilities>(rtpCapabilities), tileHeight) };
      }),

    'media:receiveVideo': async ({ video }) => {
      const { memberId, media } = conn.requireMedia();
      await media.receiveVideo(memberId, video);
      return {};
    },

    'consumer:resume': async ({ consumerId }) => {
      const { memberId, media } = conn.requireMedia();
      await media.resumeConsumer(memberId, consumerId);
      return {};
    },

    'consumers:resume': async ({ consumers }) => {
      const { memberId, media } = conn.requireMedia();
      return { missing: await media.resumeConsumers(memberId, consumers) };
    },

    'consumer:prefer': async ({ consumerId, visible, height }) => {
      const { memberId, media } = conn.requireMedia();
      await media.preferConsumer(memberId, consumerId, { visible, height });
      return {};
    },
  };
}

'use client';

import { lazyPart } from '@/lib/lazy-part';
import { preloadMediaDevice } from '@/lib/media-device';

/*
 * The screens after the entry form (the agreement, the waiting room, the room itself with the
 * facilitator's panel, another tab's notice, the end screen) are loaded apart from the page's first screen (the
 * entry form, or a link's complaint), which does not need them: the page asks for them, with
 * mediasoup-client, as soon as someone is on their way in (preloadRoomCode), so they have
 * arrived by the time they are shown, without suspending (lazy-part.ts); render them inside
 * <PartBoundary>, which shows a part that could not load and tries it again. Later chunks load under
 * the page's CSP like the first ('strict-dynamic': scripts of this origin loaded by its trusted
 * scripts).
 */

/** One part: its component (render it inside PartBoundary's <Suspense>) and its preload. */
const inRoom = lazyPart(() => import('./InRoom'), (module) => module.InRoom);
const agreement = lazyPart(() => import('./AgreementScreen'), (module) => module.AgreementScreen);
const waiting = lazyPart(() => import('./WaitingScreen'), (module) => module.WaitingScreen);
const elsewhere = lazyPart(() => import('./OpenElsewhereScreen'), (module) => module.OpenElsewhereScreen);
const signalMenu = lazyPart(() => import('./PrivateSignalMenu'), (module) => module.PrivateSignalMenu);
const end = lazyPart(() => import('./EndScreen'), (module) => module.EndScreen);
const facilitatorPanel = lazyPart(() => import('./FacilitatorPanel'), (module) => module.FacilitatorPanel);
const ackRecordOffer = lazyPart(() => import('./AckRecordOffer'), (module) => module.AckRecordOffer);
const checkoutEndOffer = lazyPart(() => import('./CheckoutEndOffer'), (module) => module.CheckoutEndOffer);

export const LazyInRoom = inRoom.Component;
export const LazyAgreementScreen = agreement.Component;
export const LazyWaitingScreen = waiting.Component;
export const LazyOpenElsewhereScreen = elsewhere.Component;
export const LazyPrivateSignalMenu = signalMenu.Component;
/** After leaving, an ending or a failure: each comes only after being on the way in. */
export const LazyEndScreen = end.Component;
/** Facilitators' tools: members never load them. */
export const LazyFacilitatorPanel = facilitatorPanel.Component;
/** The end screen's offers to save (the acknowledgement record, check-out answers): a facilitator's, at the end. */
export const LazyAckRecordOffer = ackRecordOffer.Component;
export const LazyCheckoutEndOffer = checkoutEndOffer.Component;

/** Start loading what comes after the entry form; a failure here is met again where the screen renders. */
export function preloadRoomCode(): void {
  for (const part of [agreement, waiting, inRoom, elsewhere, signalMenu, end]) part.preload();
  preloadMediaDevice();
}

/** Start loading a facilitator's tools (their panel, the end screen's offers to save). */
export function preloadFacilitatorCode(): void {
  for (const part of [facilitatorPanel, ackRecordOffer, checkoutEndOffer]) part.preload();
}

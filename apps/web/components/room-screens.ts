'use client';

import { lazy } from 'react';
import { preloadMediaDevice } from '@/lib/media-device';

/*
 * The screens after the entry form (the agreement, the waiting room, the room itself with the
 * facilitator's panel, another tab's notice) are loaded apart from the page's first screen (the
 * entry form, or a link's complaint), which does not need them: the page asks for them, with
 * mediasoup-client, as soon as someone is on their way in (preloadRoomCode), so they have
 * arrived by the time they are shown (render them inside <Suspense>). Later chunks load under
 * the page's CSP like the first ('strict-dynamic': scripts of this origin loaded by its trusted
 * scripts).
 */

const loadInRoom = () => import('./InRoom');
const loadAgreement = () => import('./AgreementScreen');
const loadWaiting = () => import('./WaitingScreen');
const loadElsewhere = () => import('./OpenElsewhereScreen');
const loadSignalMenu = () => import('./PrivateSignalMenu');
const loadFacilitatorPanel = () => import('./FacilitatorPanel');
const loadAckRecordOffer = () => import('./AckRecordOffer');
const loadCheckoutEndOffer = () => import('./CheckoutEndOffer');

export const LazyInRoom = lazy(() => loadInRoom().then((module) => ({ default: module.InRoom })));
export const LazyAgreementScreen = lazy(() => loadAgreement().then((module) => ({ default: module.AgreementScreen })));
export const LazyWaitingScreen = lazy(() => loadWaiting().then((module) => ({ default: module.WaitingScreen })));
export const LazyOpenElsewhereScreen = lazy(() => loadElsewhere().then((module) => ({ default: module.OpenElsewhereScreen })));
export const LazyPrivateSignalMenu = lazy(() => loadSignalMenu().then((module) => ({ default: module.PrivateSignalMenu })));
/** Facilitators' tools: members never load them. */
export const LazyFacilitatorPanel = lazy(() => loadFacilitatorPanel().then((module) => ({ default: module.FacilitatorPanel })));
/** The end screen's offers to save (the acknowledgement record, check-out answers): a facilitator's, at the end. */
export const LazyAckRecordOffer = lazy(() => loadAckRecordOffer().then((module) => ({ default: module.AckRecordOffer })));
export const LazyCheckoutEndOffer = lazy(() => loadCheckoutEndOffer().then((module) => ({ default: module.CheckoutEndOffer })));

/** Start loading what comes after the entry form; a failure here is met again where the screen renders. */
export function preloadRoomCode(): void {
  for (const load of [loadAgreement, loadWaiting, loadInRoom, loadElsewhere, loadSignalMenu]) load().catch(() => undefined);
  preloadMediaDevice();
}

/** Start loading a facilitator's tools (their panel, the end screen's offers to save). */
export function preloadFacilitatorCode(): void {
  for (const load of [loadFacilitatorPanel, loadAckRecordOffer, loadCheckoutEndOffer]) load().catch(() => undefined);
}

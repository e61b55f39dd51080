import type { Aside, Role } from '../room.js';
import { randomBytes, toBase64url } from './bytes.js';
import { EPOCH_KEY_BYTES } from './key-schedule.js';
import type { Sealed } from './messages.js';

/*
 * Who makes the aside key, and when a new one is made. The key is for the two only, so as few
 * pages as possible ever hold it:
 *
 * - when the aside's facilitator came in with the facilitator link (role 'facilitator', paired
 *   with every member), that page makes the key itself and seals it to the member: nobody else
 *   ever has it, the key leader included;
 * - when the facilitator is a co-facilitator (paired with facilitator-link pages only), the key
 *   leader makes it, seals it to the two, and keeps nothing of it. A page of the two back from a
 *   dropped connection or on a new page (a reload) then gets a fresh key, sent to both; so does a
 *   new leader's aside.
 *
 * A maker that is itself one of the two sends its own key again to the other's page back from a
 * drop (the same page: its frame count goes on). A new page of the other (a reload) always gets a
 * new key: a new page counts its frames from 0, and a key must never see one count twice from
 * one sender.
 */

/** Who makes the aside key: the aside's facilitator if a facilitator-link page, else the key leader. */
export function asideKeyMaker(aside: Aside, roleOf: (id: string) => Role | undefined, leader: string | null): string | null {
  return roleOf(aside.facilitatorId) === 'facilitator' ? aside.facilitatorId : leader;
}

export interface AsideKeyHost {
  /** This page's member id. */
  self(): string;
  /** A generation number no key of this page has. */
  unusedGen(): number;
  /** This page is one of the two: send with this aside key. */
  takeAside(at: number, gen: number, key: Uint8Array): Promise<void>;
  /** The aside key this page sends with for the aside that started `at`, if it has one. */
  ownAsideKey(at: number): { gen: number; key: Uint8Array } | null;
  sealTo(to: string, message: Sealed): Promise<void>;
  /** Run after what is under way (the exchange does one thing at a time). */
  queue(work: () => Promise<void>): void;
}

export class AsideKeys {
  readonly #host: AsideKeyHost;
  /** The aside this page makes the keys for (none: another page makes them, or nobody is aside). */
  #aside: Aside | null = null;

  constructor(host: AsideKeyHost) {
    this.#host = host;
  }

  /** The aside now (null: none) and whether this page is the one to make its key. */
  async update(aside: Aside | null, making: boolean): Promise<void> {
    if (!aside || !making) {
      this.#aside = null;
      return;
    }
    const known = this.#aside;
    if (known && known.startedAt === aside.startedAt && known.facilitatorId === aside.facilitatorId && known.memberId === aside.memberId) return;
    this.#aside = aside;
    await this.#fresh(aside);
  }

  /** A new page of one of the two (a reload, or paired only now): a new key for both. */
  welcome(peer: string): void {
    const aside = this.#aside;
    if (!aside || !this.#isOther(aside, peer)) return;
    this.#host.queue(async () => {
      if (this.#aside === aside) await this.#fresh(aside);
    });
  }

  /** The same page of one of the two, back from a dropped connection. */
  async catchUp(peer: string): Promise<void> {
    const aside = this.#aside;
    if (!aside || !this.#isOther(aside, peer)) return;
    const self = this.#host.self();
    const own = self === aside.facilitatorId || self === aside.memberId ? this.#host.ownAsideKey(aside.startedAt) : null;
    if (!own) return this.#fresh(aside);
    await this.#host.sealTo(peer, { k: 'aside', at: aside.startedAt, gen: own.gen, key: toBase64url(own.key) });
  }

  /** One of the two, and not this page. */
  #isOther(aside: Aside, peer: string): boolean {
    return peer !== this.#host.self() && (peer === aside.facilitatorId || peer === aside.memberId);
  }

  /** A new key, to the two only; kept here only when this page is one of them (to send with). */
  async #fresh(aside: Aside): Promise<void> {
    const gen = this.#host.unusedGen();
    const key = randomBytes(EPOCH_KEY_BYTES);
    const self = this.#host.self();
    for (const id of [aside.facilitatorId, aside.memberId]) {
      if (id !== self) await this.#host.sealTo(id, { k: 'aside', at: aside.startedAt, gen, key: toBase64url(key) });
    }
    if (self === aside.facilitatorId || self === aside.memberId) await this.#host.takeAside(aside.startedAt, gen, key);
    // A key leader outside the aside keeps nothing of it (a copy left in memory is one more to steal).
    else key.fill(0);
  }
}

/** What the batcher needs of a connection: send the view it holds, if any. */
export interface ViewHolder {
  flushView(): void;
}

/**
 * Views of a burst of changes go out once: a connection given a new view holds it, and every
 * held view is sent together once the current turn of the event loop is over, so a person is
 * sent only the view of the last change of a burst (with the in-memory store, people arriving
 * together or commands queued behind each other run in one turn). One per node, shared by its
 * rooms.
 */
export class ViewBatcher {
  readonly #unsent = new Set<ViewHolder>();
  /** Settles when the held views have been sent; undefined while none are held. */
  #sent: { promise: Promise<void>; resolve: () => void } | undefined;
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  hold(holder: ViewHolder): void {
    this.#unsent.add(holder);
    if (this.#sent) return;
    let resolve = () => {};
    const promise = new Promise<void>((done) => (resolve = done));
    this.#sent = { promise, resolve };
    setImmediate(() => this.flush());
  }

  /** Send every held view now. */
  flush(): void {
    const holders = [...this.#unsent];
    const sent = this.#sent;
    this.#unsent.clear();
    this.#sent = undefined;
    for (const holder of holders) {
      try {
        holder.flushView();
      } catch (error) {
        // One person's view failing must not hold back the others' views or anyone's answers.
        this.#onError(error);
      }
    }
    sent?.resolve();
  }

  /**
   * Settles once the views held now have been sent; undefined when none are held. A request's
   * answer waits for it, so it never arrives before the view of the change it made.
   */
  sent(): Promise<void> | undefined {
    return this.#sent?.promise;
  }
}

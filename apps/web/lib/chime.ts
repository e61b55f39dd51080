/*
 * A short, soft two-note chime for the facilitator when someone arrives in the waiting room.
 * Best effort only: any failure (no WebAudio, autoplay rules) is silent.
 */
let context: AudioContext | undefined;

export function playChime(): void {
  try {
    const Ctor = typeof window === 'undefined' ? undefined : window.AudioContext;
    if (!Ctor) return;
    context ??= new Ctor();
    const ctx = context;
    if (ctx.state === 'suspended') void ctx.resume().catch(() => undefined);
    const start = ctx.currentTime + 0.01;
    for (const [i, frequency] of [660, 880].entries()) {
      const oscillator = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = start + i * 0.16;
      oscillator.type = 'sine';
      oscillator.frequency.setValueAtTime(frequency, at);
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(0.08, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.35);
      oscillator.connect(gain).connect(ctx.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.4);
    }
  } catch {
    // a chime is a nicety; never let it break the room
  }
}

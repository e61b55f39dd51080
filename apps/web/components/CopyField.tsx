'use client';

import { useId, useRef, useState, type ReactNode } from 'react';
import { useAnnounce } from './Announcer';

interface Props {
  label: string;
  value: string;
  /** What the copy button says to assistive technology, e.g. "Copy invite link". */
  copyLabel: string;
  hint?: ReactNode;
  tone?: 'private' | 'share';
  testId?: string;
}

async function copy(text: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Not a secure context, or permission refused: select the text so it can be copied by hand.
    input?.select();
    return false;
  }
}

/** A read-only link with a copy button; the link stays visible so it can be copied by hand. */
export function CopyField({ label, value, copyLabel, hint, tone, testId }: Props) {
  const id = useId();
  const inputRef = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const announce = useAnnounce();

  const onCopy = async () => {
    const ok = await copy(value, inputRef.current);
    announce(ok ? `${label}: copied.` : 'Copying is not available here: the link is selected, copy it with your keyboard.');
    if (ok) {
      setCopied(true);
      setTimeout(() => setCopied(false), 2500);
    }
  };

  return (
    <div className={`copy-field${tone ? ` ${tone}` : ''}`}>
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p className="field-hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      <div className="copy-row">
        <input
          id={id}
          ref={inputRef}
          readOnly
          value={value}
          onFocus={(e) => e.currentTarget.select()}
          aria-describedby={hint ? `${id}-hint` : undefined}
          data-testid={testId}
          spellCheck={false}
        />
        {/* The name holds what the button shows (WCAG 2.5.3 label in name), "Copied" included. */}
        <button type="button" onClick={() => void onCopy()} aria-label={copied ? `Copied: ${copyLabel}` : copyLabel}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  );
}

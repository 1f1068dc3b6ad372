import { useState } from "react";
import { Icon } from "./icons";

/**
 * Copies text to the clipboard and says so for a moment (also to screen readers). `what` names
 * the thing copied in the accessible name ("Copy the MCP endpoint URL") while the button shows
 * only "Copy", so the visible text stays part of the name, as WCAG's label-in-name asks.
 */
export function CopyButton({ text, what }: { text: string; what: string }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Older browsers, or a page not served over HTTPS/localhost: fall back to a selection copy.
      const ta = document.createElement("textarea");
      ta.value = text;
      document.body.appendChild(ta);
      ta.select();
      document.execCommand("copy");
      ta.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" className="button button-small button-ghost copy-button" onClick={() => void copy()}>
      <Icon name={copied ? "check" : "copy"} />
      <span aria-live="polite">{copied ? "Copied" : "Copy"}<span className="sr-only"> {what}</span></span>
    </button>
  );
}

/** A block of code (curl, JSON) under a bar with its kind and copy button; long lines wrap rather than scroll. */
export function CodeBlock({ code, label, kind }: { code: string; label: string; kind: string }) {
  return (
    <div className="code-block">
      <div className="code-bar">
        <span>{kind}</span>
        <CopyButton text={code} what={`the ${label}`} />
      </div>
      <pre tabIndex={0} aria-label={label}><code>{code}</code></pre>
    </div>
  );
}

import { useEffect, useId, useRef, type ReactNode } from "react";

/**
 * A modal on the native <dialog>: showModal() gives the focus trap, Escape, the inert page
 * behind it and the backdrop, so keyboard users get the platform's behaviour.
 */
export function Modal({ title, onClose, children, footer, wide, description }: {
  title: ReactNode;
  onClose: () => void;
  children: ReactNode;
  footer?: ReactNode;
  wide?: boolean;
  description?: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const descId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (!d.open) d.showModal();
    const cancel = (e: Event) => {
      e.preventDefault();
      onCloseRef.current();
    };
    d.addEventListener("cancel", cancel);
    return () => {
      d.removeEventListener("cancel", cancel);
      if (d.open) d.close();
    };
  }, []);
  return (
    <dialog ref={ref} className={`modal${wide ? " modal-wide" : ""}`} aria-labelledby={titleId} aria-describedby={description ? descId : undefined}>
      <header className="modal-header">
        <div>
          <h2 id={titleId}>{title}</h2>
          {description && <p id={descId} className="muted">{description}</p>}
        </div>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>×</button>
      </header>
      <div className="modal-body">{children}</div>
      {footer && <footer className="modal-footer">{footer}</footer>}
    </dialog>
  );
}

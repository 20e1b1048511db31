// A modal dialog, the page's one: rendered over the page, everything behind it inert (no focus, no clicks, hidden
// from assistive technology), focus moved in (to `initialFocus`, else the first control) and kept in (Tab wraps),
// Esc closes it (unless `busy`: a request is on its way), and focus goes back on close to `returnFocus` or to
// what had it before (or, when that is disabled by then, to the first control of its row or panel).
import { useEffect, useRef } from "react";
import { createPortal } from "react-dom";

const FOCUSABLE = 'button:not([disabled]), [href], input:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex="-1"])';

export function Modal({ className = "", labelledBy, describedBy, initialFocus, returnFocus, busy = false, onClose, children }) {
  const dialogRef = useRef(null);
  const closeRef = useRef(onClose);
  closeRef.current = onClose;

  useEffect(() => {
    const opener = returnFocus?.current ?? document.activeElement;
    const backdrop = dialogRef.current?.parentElement;
    const behind = Array.from(document.body.children).filter((el) => el !== backdrop && !el.hasAttribute("inert"));
    behind.forEach((el) => el.setAttribute("inert", ""));
    const first = () => initialFocus?.current ?? dialogRef.current?.querySelector(FOCUSABLE) ?? dialogRef.current;
    first()?.focus();
    // focus that escapes (a click outside, a screen reader jump) is brought back
    const keepInside = (e) => {
      if (dialogRef.current && !dialogRef.current.contains(e.target)) first()?.focus();
    };
    document.addEventListener("focusin", keepInside);
    return () => {
      document.removeEventListener("focusin", keepInside);
      behind.forEach((el) => el.removeAttribute("inert"));
      if (!(opener instanceof HTMLElement) || !opener.isConnected) return;
      opener.focus();
      // the opener may be off by now (a Cancel once the cancel is requested): its row or panel takes focus
      if (document.activeElement !== opener) opener.closest("tr, article, section")?.querySelector(FOCUSABLE)?.focus();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const onKeyDown = (e) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      if (!busy) closeRef.current();
      return;
    }
    if (e.key !== "Tab") return;
    const items = Array.from(dialogRef.current.querySelectorAll(FOCUSABLE));
    if (items.length === 0) return;
    const firstItem = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && (document.activeElement === firstItem || !dialogRef.current.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      firstItem.focus();
    }
  };

  return createPortal(
    // a click on the backdrop (the second click of a double click that opened the dialog) must not take focus out
    <div className="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && e.preventDefault()}>
      <div
        ref={dialogRef}
        className={`dialog ${className}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={labelledBy}
        aria-describedby={describedBy}
        tabIndex={-1}
        onKeyDown={onKeyDown}
      >
        {children}
      </div>
    </div>,
    document.body,
  );
}

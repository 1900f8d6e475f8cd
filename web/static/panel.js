// What the panel's pages do in the browser besides htmx, kept here because the
// Content-Security-Policy runs no inline script nor on…= attribute (web/headers.py).
// Listeners are on the document, so content that htmx swaps in works too.
document.addEventListener("click", event => {
  // A button marked data-print prints the page (the monthly savings report).
  if (event.target.closest("[data-print]")) window.print();
});

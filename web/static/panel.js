// What the panel's pages do in the browser besides htmx, kept here because the
// Content-Security-Policy runs no inline script nor on…= attribute (web/headers.py).
// Listeners are on the document, so content that htmx swaps in works too.
document.addEventListener("click", event => {
  // A button marked data-print prints the page (the monthly savings report).
  if (event.target.closest("[data-print]")) window.print();
});

// Details a person opened (a reason's, on the overview and the building page) stay open
// when htmx refreshes the page's live part every 10 s: they are found again by their id.
let opened = [];
document.addEventListener("htmx:beforeSwap", () => {
  opened = [...document.querySelectorAll("details[id][open]")].map(details => details.id);
});
document.addEventListener("htmx:afterSwap", () => {
  for (const id of opened) document.getElementById(id)?.setAttribute("open", "");
});

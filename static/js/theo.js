// Theo's small shared client script. Page-specific clients (chat, progress) live beside it.
// The Content-Security-Policy allows no inline script, event handler or style attribute, so
// what pages used to say inline is said here: bar sizes come from data-percent/data-height
// (set through the CSSOM, which CSP allows), confirmations from data-confirm.
(function () {
  "use strict";

  function percent(value) {
    var number = parseFloat(value);
    return isNaN(number) ? 0 : Math.max(0, Math.min(100, number));
  }

  // Progress bars (data-percent -> width) and chart columns (data-height -> height).
  function sizeBars(root) {
    Array.prototype.forEach.call(root.querySelectorAll("[data-percent]"), function (node) {
      node.style.width = percent(node.dataset.percent) + "%";
    });
    Array.prototype.forEach.call(root.querySelectorAll("[data-height]"), function (node) {
      node.style.height = percent(node.dataset.height) + "%";
    });
  }
  sizeBars(document);
  // Fragments htmx swaps in (the Bible indexing status) bring their own bars.
  document.addEventListener("htmx:load", function (event) { sizeBars(event.target); });

  // <form data-confirm="Delete this?">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
  }, true);

  // Dismiss flash messages on click.
  document.addEventListener("click", function (event) {
    var message = event.target.closest(".message");
    if (message) message.remove();
  });
})();

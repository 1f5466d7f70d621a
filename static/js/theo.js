// Theo's small shared client script. Page-specific clients (chat, progress) live beside it.
(function () {
  "use strict";
  // Dismiss flash messages on click.
  document.addEventListener("click", function (event) {
    var message = event.target.closest(".message");
    if (message) message.remove();
  });
})();

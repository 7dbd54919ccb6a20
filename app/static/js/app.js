// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Destructive forms carry data-confirm="<consequence>": ask before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  }, true);

  // Elements with data-autoclose disappear after a few seconds (flash messages).
  document.querySelectorAll("[data-autoclose]").forEach(function (element) {
    window.setTimeout(function () { element.remove(); }, 8000);
  });
})();

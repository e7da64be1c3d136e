// A promotion request's page (promotion/request_detail.html).
(function () {
  "use strict";
  // A refused or incomplete disposition comes back as the flaws fragment with its reason: show it.
  document.body.addEventListener("htmx:beforeSwap", function (evt) {
    var flaws = document.getElementById("flaws");
    if (flaws && evt.target instanceof Node && flaws.contains(evt.target) && [400, 403, 409].indexOf(evt.detail.xhr.status) >= 0) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
})();

// Never reload over what someone is typing. A poll that asks for the whole page again (HX-Refresh,
// e.g. the load progress when the request's state moves on) is held back while a form on the page
// holds unsent input; a notice says the page changed, and the person reloads when they are ready.
(function () {
  "use strict";

  function changed(field) {
    if (field.type === "hidden" || field.disabled) return false;
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    return field.value !== field.defaultValue;
  }

  function typing() {
    return Array.prototype.some.call(document.querySelectorAll("form textarea, form input, form select"), changed);
  }

  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (!xhr || xhr.getResponseHeader("HX-Refresh") !== "true" || !typing()) return;
    event.preventDefault();
    var place = document.querySelector("[data-refresh-notice]");
    if (!place || document.getElementById("refresh-notice")) return;
    var notice = document.createElement("p");
    notice.className = "live-notice";
    notice.id = "refresh-notice";
    notice.setAttribute("role", "status");
    notice.appendChild(document.createTextNode("This page has changed. What you typed stays here until you "));
    var reload = document.createElement("a");
    reload.href = window.location.pathname + window.location.search;
    reload.textContent = "reload";
    notice.appendChild(reload);
    notice.appendChild(document.createTextNode("."));
    place.appendChild(notice);
  });
})();

// A form marked data-submit-once is sent once: a second tap while the first is on its way (a
// slow network) would ask again and, for a one-time check such as a 亮证, use it up so that the
// page shows 已核验过 instead of the verdict. Back on the page from the history, it can be sent again.
(function () {
  "use strict";
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    var button = form.querySelector("button[type=submit]");
    var label = button ? button.textContent : "";
    form.addEventListener("submit", function (event) {
      if (form.dataset.sent) {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      if (button) {
        button.textContent = form.dataset.submitOnce;
        button.setAttribute("aria-disabled", "true");
      }
    });
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) return;
      delete form.dataset.sent;
      if (button) {
        button.textContent = label;
        button.removeAttribute("aria-disabled");
      }
    });
  });
})();

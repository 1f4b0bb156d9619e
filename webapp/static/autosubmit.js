// A <select data-autosubmit> submits its form when changed (the dashboard's period and county).
// Kept out of the page: the Content-Security-Policy allows no inline script or on… handlers.
(function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();

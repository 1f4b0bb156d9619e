// 添加一行 for a repeating group of a form (an array of objects): copy the last row, empty it and
// number its fields one higher (people-2-name → people-3-name). Without JavaScript the button submits
// the form as a draft and the page comes back with one more empty row.
(function () {
  document.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-add-row]");
    if (!button) return;
    var group = button.closest("[data-rows]");
    var rows = group.querySelectorAll(":scope > .row-item");
    var last = rows[rows.length - 1];
    if (!last) return;
    e.preventDefault();
    var name = group.getAttribute("data-rows");
    var next = Number(last.getAttribute("data-row")) + 1;
    var copy = last.cloneNode(true);
    var old = name + "-" + last.getAttribute("data-row") + "-";
    var fresh = name + "-" + next + "-";
    copy.setAttribute("data-row", String(next));
    copy.querySelectorAll("[name], [id], [for], [data-error-for]").forEach(function (el) {
      ["name", "id", "for", "data-error-for"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value && value.indexOf(old) !== -1) el.setAttribute(attr, value.split(old).join(fresh));
      });
      if (el.matches("input[type=checkbox], input[type=radio]")) el.checked = false;
      else if (el.matches("input:not([type=hidden]), textarea")) el.value = "";
      else if (el.matches("select")) el.selectedIndex = 0;
    });
    copy.querySelectorAll(".error").forEach(function (el) { el.remove(); });
    copy.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    var number = copy.querySelector(".row-number");
    if (number) number.textContent = number.textContent.replace(/\d+/, String(next + 1));
    last.after(copy);
    var first = copy.querySelector("input:not([type=hidden]), select, textarea");
    if (first) first.focus();
  });
})();

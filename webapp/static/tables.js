// Narrow screens show each table row as a stacked card (app.css); every cell is labelled with its
// column's heading through data-label, filled in here for the tables whose templates do not set it.
(function () {
  var tables = document.querySelectorAll("table.list");
  for (var t = 0; t < tables.length; t++) {
    var heads = tables[t].querySelectorAll("thead th");
    if (!heads.length) continue;
    var rows = tables[t].querySelectorAll("tbody tr");
    for (var r = 0; r < rows.length; r++) {
      var cells = rows[r].children;
      for (var c = 0; c < cells.length && c < heads.length; c++) {
        var label = heads[c].textContent.trim();
        if (label && !cells[c].hasAttribute("data-label")) cells[c].setAttribute("data-label", label);
      }
    }
  }
})();

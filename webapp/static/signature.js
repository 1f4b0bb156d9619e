// Handwritten signature: draw on the canvas with mouse, pen or finger; the PNG goes in a hidden field.
(function () {
  var canvas = document.getElementById("signature-pad");
  if (!canvas) return;
  var field = document.getElementById("signature-data");
  var ctx = canvas.getContext("2d");
  var drawing = false, drawn = false;
  ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.strokeStyle = "#111";
  function point(e) {
    var r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  }
  canvas.addEventListener("pointerdown", function (e) {
    drawing = true; canvas.setPointerCapture(e.pointerId);
    var p = point(e); ctx.beginPath(); ctx.moveTo(p[0], p[1]);
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!drawing) return;
    var p = point(e); ctx.lineTo(p[0], p[1]); ctx.stroke(); drawn = true;
  });
  function finish() { if (drawing) { drawing = false; if (drawn) field.value = canvas.toDataURL("image/png"); } }
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointerleave", finish);
  document.getElementById("signature-clear").addEventListener("click", function () {
    ctx.clearRect(0, 0, canvas.width, canvas.height); field.value = ""; drawn = false;
  });
})();

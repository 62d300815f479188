var t0 = Date.now(), tick = setInterval(clocks, 200);
function el(p, i) { return document.getElementById(p + i); }
function a(i, h) {
  var e = el("s", i);
  var pin = e.scrollTop + e.clientHeight >= e.scrollHeight - 8;
  e.insertAdjacentHTML("beforeend", h);
  if (pin) e.scrollTop = e.scrollHeight;
}
function st(i, c, h, ms) {
  var e = el("st", i), k = el("tm", i);
  e.className = "state " + c; e.setAttribute("data-state", c);
  e.innerHTML = h;
  if (ms >= 0) { k.className = "clock final";
    k.textContent = (ms / 1e3).toFixed(1) + " s"; }
}
function clocks() {
  var l = document.querySelectorAll(".clock:not(.final)");
  for (var k = 0; k < l.length; k++)
    l[k].textContent = ((Date.now() - t0) / 1e3).toFixed(1) + " s";
}
addEventListener("load", function () {
  clearInterval(tick);
  var l = document.querySelectorAll(".state.connecting, .state.running");
  for (var k = 0; k < l.length; k++)
    st(l[k].id.slice(2), "error", "error: the page ended first",
      Date.now() - t0);
});

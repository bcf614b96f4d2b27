// Roster console: the little the pages need beyond htmx, with no inline script (the CSP forbids
// it). Copy buttons: <button data-copy="#selector">.
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) return;
  var el = document.querySelector(b.getAttribute("data-copy"));
  if (!el || !navigator.clipboard) return;
  navigator.clipboard.writeText(el.textContent.trim()).then(function () {
    var was = b.textContent;
    b.textContent = "Copied";
    setTimeout(function () { b.textContent = was; }, 1500);
  });
});

// File inputs that fill a textarea: <input type="file" data-load-into="#selector">.
document.addEventListener("change", function (e) {
  var input = e.target.closest("input[type=file][data-load-into]");
  if (!input || !input.files || !input.files[0]) return;
  var target = document.querySelector(input.getAttribute("data-load-into"));
  if (!target) return;
  input.files[0].text().then(function (text) { target.value = text; });
});

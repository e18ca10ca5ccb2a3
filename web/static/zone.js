// The display-zone control: offers this browser's own zone (from Intl) in
// one click. Without script the form still takes any IANA name.
(function () {
  'use strict';
  var input = document.getElementById('zone-tz');
  if (!input || !window.Intl || !Intl.DateTimeFormat) {
    return;
  }
  var mine = '';
  try {
    mine = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch (e) {
    return;
  }
  if (!mine || mine === input.value) {
    return;
  }
  var b = document.createElement('button');
  b.type = 'submit';
  b.className = 'secondary';
  b.id = 'zone-mine';
  b.textContent = 'Use ' + mine;
  b.title = "this browser's time zone";
  b.addEventListener('click', function () { input.value = mine; });
  input.form.appendChild(b);
})();

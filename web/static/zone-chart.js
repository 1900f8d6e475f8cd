// The zone's chart: temperature and setpoint (°C, left), occupancy and heating (right),
// in the site's time zone (data-timezone), in the page's language (<html lang>): times on
// 24 hours, dates day first (12/05/2026), decimal comma in French, the names of months
// and days given by the server (data-calendar, web/charts.py calendar_names).
(function () {
  const box = document.getElementById("chart");
  if (!box || !window.uPlot) return;
  const labels = JSON.parse(box.dataset.labels);
  const calendar = JSON.parse(box.dataset.calendar);
  const lang = document.documentElement.lang || "fr";
  const s = 1, m = 60 * s, h = 60 * m, d = 24 * h;
  // uPlot's time axis: [tick step in s, label, then on a new year, month, day, hour,
  // minute, second: what is added under it; 1: added to the label].
  const stamps = [
    [365 * d, "{YYYY}", null, null, null, null, null, null, 1],
    [28 * d, "{MMM}", "\n{YYYY}", null, null, null, null, null, 1],
    [d, "{DD}/{MM}", "\n{YYYY}", null, null, null, null, null, 1],
    [h, "{HH}:{mm}", "\n{DD}/{MM}/{YYYY}", null, "\n{DD}/{MM}", null, null, null, 1],
    [m, "{HH}:{mm}", "\n{DD}/{MM}/{YYYY}", null, "\n{DD}/{MM}", null, null, null, 1],
  ];
  const decimal = new Intl.NumberFormat(lang, {minimumFractionDigits: 1, maximumFractionDigits: 1});
  const whole = new Intl.NumberFormat(lang, {maximumFractionDigits: 0});
  const shown = format => (u, v) => v == null ? "—" : format.format(v);
  const tick = new Intl.NumberFormat(lang, {maximumFractionDigits: 2});
  const ticks = (u, splits) => splits.map(v => tick.format(v));
  let plot = null;
  let range = "48h";
  async function draw() {
    const response = await fetch(box.dataset.url + "?range=" + range, {credentials: "same-origin"});
    if (!response.ok) return;
    const data = await response.json();
    const width = Math.max(300, box.clientWidth);
    const options = {
      width: width, height: 280, tzDate: ts => uPlot.tzDate(new Date(ts * 1e3), box.dataset.timezone),
      fmtDate: template => uPlot.fmtDate(template, calendar),
      scales: {pct: {range: [0, 100]}},
      series: [{label: labels.time, value: "{DD}/{MM}/{YYYY} {HH}:{mm}"},
        {label: labels.temperature, stroke: "#c0392b", scale: "°C", spanGaps: false, value: shown(decimal)},
        {label: labels.setpoint, stroke: "#2c3e50", dash: [6, 4], scale: "°C", value: shown(decimal)},
        {label: labels.occupancy, stroke: "#27ae60", scale: "pct", value: (u, v) => v == null ? "—" : (v > 0 ? "1" : "0")},
        {label: labels.heating + " %", stroke: "#e67e22", scale: "pct", value: shown(whole)}],
      axes: [{values: stamps}, {scale: "°C", label: "°C", values: ticks},
        {scale: "pct", side: 1, label: "%", grid: {show: false}, values: ticks}],
    };
    const occupancy = data.occupancy.map(v => v == null ? null : v * 100);
    const rows = [data.t, data.temperature, data.setpoint, occupancy, data.heating];
    if (plot) plot.destroy();
    plot = new uPlot(options, rows, box);
  }
  document.querySelectorAll("[data-range]").forEach(button => button.addEventListener("click", () => {
    range = button.dataset.range;
    draw();
  }));
  draw();
  setInterval(draw, 60000);
})();

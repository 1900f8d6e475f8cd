// The zone's chart: temperature and setpoint (°C, left), occupancy and heating (right),
// in the site's time zone (data-timezone).
(function () {
  const box = document.getElementById("chart");
  if (!box || !window.uPlot) return;
  const labels = JSON.parse(box.dataset.labels);
  let plot = null;
  let range = "48h";
  async function draw() {
    const response = await fetch(box.dataset.url + "?range=" + range, {credentials: "same-origin"});
    if (!response.ok) return;
    const data = await response.json();
    const width = Math.max(300, box.clientWidth);
    const options = {
      width: width, height: 280, tzDate: ts => uPlot.tzDate(new Date(ts * 1e3), box.dataset.timezone),
      scales: {pct: {range: [0, 100]}},
      series: [{},
        {label: labels.temperature, stroke: "#c0392b", scale: "°C", spanGaps: false},
        {label: labels.setpoint, stroke: "#2c3e50", dash: [6, 4], scale: "°C"},
        {label: labels.occupancy, stroke: "#27ae60", scale: "pct", value: (u, v) => v == null ? "—" : (v > 0 ? "1" : "0")},
        {label: labels.heating + " %", stroke: "#e67e22", scale: "pct"}],
      axes: [{}, {scale: "°C", label: "°C"}, {scale: "pct", side: 1, label: "%", grid: {show: false}}],
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
